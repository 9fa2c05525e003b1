"""Export a fitted model for serving: ONNX (`to_onnx`, onnxruntime and other
runtimes; needs ``pip install "fastmlp[onnx]"``) or dependency-free C99 source
(`to_c`, embedded targets). Both compute what ``predict_proba`` / ``predict`` do,
to rounding; the tests compare them on every activation and output type.
"""
from fastmlp.export.c_source import to_c
from fastmlp.export.onnx_graph import to_onnx

__all__ = ["to_c", "to_onnx"]
