"""The piano model: transkun 2.0 (Yujia Yan & Zhiyao Duan, ISMIR 2024, MIT licence), without PyTorch.

``checkpoint`` reads its weights, ``graph`` builds the network as ONNX at set-up, ``model`` fetches,
checks and loads it; per segment ``frontend`` makes the features, ``decode`` picks note intervals,
``heads`` gives them velocities and refined times, and ``segments`` cuts the stream and stitches the
notes; ``pipeline`` runs it all.
"""
