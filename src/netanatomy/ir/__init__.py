"""The intermediate representation shared by all front-ends and analyses."""

from netanatomy.ir.graph import CaptureInfo, Graph, ModuleInfo, Node, ParamInfo, Shape, TensorInfo

__all__ = ["CaptureInfo", "Graph", "ModuleInfo", "Node", "ParamInfo", "Shape", "TensorInfo"]
