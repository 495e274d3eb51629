"""Tiny safetensors reader/writer (numpy + struct + json only; no `safetensors` package).

Format: 8-byte little-endian u64 N = header length, then N bytes of JSON
{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
then the raw little-endian tensor bytes; data_offsets are relative to the end of the header.

Supported dtypes: F32, F64, I32, I64 (read and write), F16 and BF16 (read only, returned as float32).

Use:  from st import load, save
      tensors, metadata = load(path)          # dict name -> numpy array (in file order), dict
      save(path, {"name": np_array, ...}, metadata={"format": "pt"})
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
}
_NP_TO_ST = {np.dtype("float32"): "F32", np.dtype("float64"): "F64",
             np.dtype("int32"): "I32", np.dtype("int64"): "I64"}


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
    return n, header


def load(path):
    """Return (tensors, metadata): tensors is a dict name -> numpy array, in data-offset order."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    body = raw[8 + n:]
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dt, shape = info["dtype"], info["shape"]
        b, e = info["data_offsets"]
        if dt == "BF16":
            u = np.frombuffer(body[b:e], dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32).reshape(shape)
        elif dt in _DTYPES:
            arr = np.frombuffer(body[b:e], dtype=_DTYPES[dt]).reshape(shape)
            if dt == "F16":
                arr = arr.astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        count = int(np.prod(shape)) if len(shape) else 1
        if arr.size != count:
            raise ValueError(f"{path}: tensor {name}: byte size does not match shape {shape}")
        out[name] = arr.copy()
    return out, metadata


def save(path, tensors, metadata=None):
    """Write tensors (dict name -> numpy array of float32/float64/int32/int64) in the given order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    off = 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if arr.dtype not in _NP_TO_ST:
            raise ValueError(f"tensor {name}: unsupported numpy dtype {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NP_TO_ST[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(data)]}
        chunks.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # pad header with spaces to 8-byte alignment (as the spec allows)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
