"""The piano model: transkun 2.0 (Yujia Yan & Zhiyao Duan, ISMIR 2024, MIT licence), without PyTorch.

At set-up ``fetch`` gets the pinned wheel, ``checkpoint`` reads its weights and ``graph`` builds the
network as ONNX (``config`` holds the model's shapes). At run time ``model`` verifies and loads the
build; per segment ``frontend`` makes the features, the network gives target tokens, ``scorer`` turns
them into interval scores, ``decode`` picks note intervals, ``heads`` gives them velocities and
refined times, and ``segments`` cuts the stream and stitches the notes; ``pipeline`` runs it all.
"""
