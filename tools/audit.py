"""pip-audit over requirements.lock, failing on any known vulnerability not answered below.

pip-audit asks PyPI for each pinned version's advisories. Where that service cannot be reached (some
build networks allow the package index but not its JSON API) every package comes back "could not be
audited": that is reported loudly, not mistaken for a clean result, and does not fail the build, since
nothing was learnt either way.

Run by `make security` with the security venv's Python: python tools/audit.py
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 # runs pip-audit, a fixed command
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Advisories we have read and answered: id -> why it does not apply or what we do about it.
ANSWERED: dict[str, str] = {}


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--requirement", "requirements.lock", "--require-hashes", "--disable-pip",
               "--progress-spinner", "off", "--format", "json"]
    for advisory in ANSWERED:
        command += ["--ignore-vuln", advisory]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)  # nosec B603 # our own argv, no shell
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"pip-audit failed (exit {result.returncode}):\n{result.stderr.strip()}", file=sys.stderr)
        return 1
    dependencies = report["dependencies"]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    found = [(d["name"], d["version"], v) for d in dependencies for v in d.get("vulns", [])]
    for name, version, vuln in found:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
        print(f"VULNERABLE {name}=={version}: {vuln['id']} (fixed in {fixed}): {vuln.get('description', '')[:200]}",
              file=sys.stderr)
    audited = len(dependencies) - len(skipped)
    print(f"pip-audit: {audited} of {len(dependencies)} locked packages audited, {len(found)} known vulnerabilities"
          + (f", {len(ANSWERED)} answered advisories ignored" if ANSWERED else ""))
    if skipped:
        print(f"pip-audit: WARNING: {len(skipped)} packages could not be audited, e.g. {skipped[0]['skip_reason']}. "
              "PyPI's JSON API (https://pypi.org/pypi/<name>/<version>/json) is not reachable from here; run "
              "`make security` where it is before a release.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
