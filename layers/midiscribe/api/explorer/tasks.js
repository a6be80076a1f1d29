// The key's recent tasks (GET /v1/tasks, newest first, a page at a time), each a button that reopens it.

import * as api from "./api.js";

export class TaskList {
  constructor({ list, more, onOpen, onError }) {
    Object.assign(this, { list, more, onOpen, onError });
    this.cursor = null;
    more.addEventListener("click", () => this.load(false));
  }

  async load(fromStart = true) {
    try {
      const page = await api.tasks(fromStart ? undefined : this.cursor);
      if (fromStart) this.list.replaceChildren();
      for (const task of page.tasks) this.list.append(this.item(task));
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
    } catch (error) {
      this.onError(error);
    }
  }

  item(task) {
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.taskId = task.task_id;
    const name = document.createElement("span");
    name.className = "task-name";
    name.textContent = task.source_name || task.task_id;
    const status = document.createElement("span");
    status.className = `task-status-${task.status.toLowerCase()}`;
    status.textContent = task.status === "COMPLETED" && task.note_count !== null
      ? `${task.note_count} notes` : task.status.replace("_", " ").toLowerCase();
    const when = document.createElement("time");
    when.dateTime = task.createdAt;
    when.textContent = new Date(task.createdAt).toLocaleString();
    button.append(name, status, when);
    button.addEventListener("click", () => this.onOpen(task.task_id));
    entry.append(button);
    return entry;
  }
}
