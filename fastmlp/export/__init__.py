"""Export a fitted model for serving: ONNX (`to_onnx`, onnxruntime and other
runtimes; needs ``pip install "fastmlp[onnx]"``) or dependency-free C99 source
(`to_c`, embedded targets). Both compute what ``predict_proba`` / ``predict`` do,
to rounding; the tests compare them on every activation and output type.
`register_skl2onnx` lets skl2onnx convert a scikit-learn Pipeline that holds a
fastmlp model (``pip install "fastmlp[skl2onnx]"``); nothing here imports onnx or
skl2onnx until a function that needs them is called.
"""
from fastmlp.export.c_source import to_c
from fastmlp.export.onnx_graph import to_onnx
from fastmlp.export.skl2onnx_converter import register_skl2onnx

__all__ = ["register_skl2onnx", "to_c", "to_onnx"]
