"""Layers that PyTorch lacks, used by ``netanatomy.spec.build`` and usable on their own:
masked, deformable, depthwise-separable and TF-'same' convolutions, Gaussian dropout,
branch (Inception), residual and dense blocks, crops, a PEDCC head and center loss; a VAE,
a contractive autoencoder, seq2seq, skip-gram and a threshold-unit RNN.

All are plain ``nn.Module`` written with ordinary aten ops, so netanatomy analyses them
with its usual rules.
"""

from netanatomy.layers.containers import Branch, DenseBlock, InceptionV1, Residual, SpecNetwork
from netanatomy.layers.conv import (
    DeformConv2d,
    MaskedConv2d,
    SameConv1d,
    SameConv2d,
    SameConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    pixelcnn_mask,
)
from netanatomy.layers.dropout import GaussianDropout
from netanatomy.layers.generative import VAE, ContractiveAutoencoder
from netanatomy.layers.heads import CenterLoss, PEDCCHead, pedcc_centroids
from netanatomy.layers.recurrent import GRU, LSTM, RNN
from netanatomy.layers.sequence import Seq2Seq, SkipGram, ThresholdRNN
from netanatomy.layers.shape import Crop

__all__ = [
    "GRU", "LSTM", "RNN", "Branch", "CenterLoss", "Crop", "DeformConv2d", "DenseBlock",
    "GaussianDropout", "InceptionV1", "MaskedConv2d", "PEDCCHead", "Residual", "SameConv1d",
    "SameConv2d", "SameConv3d", "SeparableConv1d", "SeparableConv2d", "SeparableConv3d",
    "SpecNetwork", "pedcc_centroids", "pixelcnn_mask",
    "VAE", "ContractiveAutoencoder", "Seq2Seq", "SkipGram", "ThresholdRNN",
]
