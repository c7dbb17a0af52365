"""The multilingual sentence encoder: ONNX graph build and runtime."""

from __future__ import annotations

from triage.encoder.runtime import Encoder, EncoderMissingError

__all__ = ["Encoder", "EncoderMissingError"]
