"""Writes the Keras .h5 edge fixtures for the contract module (called by gen-contract-fixtures.ts).

Reads a JSON list on stdin: [{"path": ..., "attrs": {name: {"value": str, "as": "str" | "bytes"}},
"datasets": {name: [floats]}}]. Uses Debian's python3-h5py; no Keras needed: a Keras .h5 is an
HDF5 file whose root group has the attributes model_config (JSON), keras_version and backend.
"""
import json
import sys

import h5py
import numpy as np


def main() -> None:
    specs = json.load(sys.stdin)
    for spec in specs:
        # libver="earliest" and no track_order: the layout Keras 2 files have.
        with h5py.File(spec["path"], "w") as f:
            for name, attr in spec["attrs"].items():
                if attr["as"] == "bytes":
                    f.attrs[name] = np.bytes_(attr["value"].encode("utf-8"))
                else:
                    f.attrs[name] = attr["value"]
            weights = f.create_group("model_weights")
            for name, values in spec.get("datasets", {}).items():
                weights.create_dataset(name, data=np.asarray(values, dtype="float32"))


if __name__ == "__main__":
    main()
