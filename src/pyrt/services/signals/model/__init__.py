"""Serving a trained model: its manifest, the one onnxruntime loader, the deploy gates and
the drift measure. Training lives in pyrt.ops.model_train (scikit-learn, skl2onnx)."""
