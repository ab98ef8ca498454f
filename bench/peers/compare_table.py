#!/usr/bin/env python3
"""Turns bench/compare.sh's results.jsonl into one JSON document (stdout) and a table (stderr).

Times are batch-1 medians in microseconds, the lowest over the rounds of the run. ONNX Runtime times have the binding's per-call
overhead (the Identity model's median) subtracted. Ratios are time / peer time: below 1.0 means
shrink-rt is faster. The issue's targets are checked and reported as met or not.
"""
import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    out = {"batch": 1, "threads": 1, "unit": "us (median)", "models": {}}
    for m in models:
        t = {}
        size = {}
        for r in rows:
            if r["model"] != m:
                continue
            key = r["engine"] + ":" + r["variant"]
            res = r["result"]
            v = res.get("batch1_median_us", res.get("median_us"))
            t[key] = min(v, t.get(key, v))  # best of the rounds
            size[key] = r["file_bytes"]
        overhead = t.pop("onnxruntime:identity")
        for k in ("onnxruntime:fp32", "onnxruntime:int8"):
            t[k] = max(t[k] - overhead, 1e-3)
        ratio = lambda a, b: round(t[a] / t[b], 3)
        out["models"][m] = {
            "median_us": {k: round(v, 2) for k, v in t.items()},
            "file_bytes": size,
            "ort_binding_overhead_us": round(overhead, 2),
            "ratios": {
                "rt_int8_over_ort_fp32": ratio("shrink-rt:int8", "onnxruntime:fp32"),
                "rt_int8_over_ort_int8": ratio("shrink-rt:int8", "onnxruntime:int8"),
                "rt_fp32_over_ort_fp32": ratio("shrink-rt:fp32", "onnxruntime:fp32"),
                "rt_int16_over_ort_fp32": ratio("shrink-rt:int16", "onnxruntime:fp32"),
                "rt_fp32_over_libtorch_fp32": ratio("shrink-rt:fp32", "libtorch:fp32"),
                "rt_int8_over_libtorch_fp32": ratio("shrink-rt:int8", "libtorch:fp32"),
                "rt_int8_dense_over_sparse": ratio("shrink-rt:int8", "shrink-rt:sparse-int8"),
            },
        }
    targets = []

    def target(name, model, key, op, bound):
        if model not in out["models"]:
            return
        v = out["models"][model]["ratios"][key]
        targets.append({"target": name, "value": v, "bound": bound,
                        "met": v <= bound if op == "<=" else v >= bound})

    target("int8 LeNet-5 no slower than ORT fp32", "lenet5", "rt_int8_over_ort_fp32", "<=", 1.0)
    target("int8 MobileNetV2 within 1.5x of ORT fp32", "mobilenetv2", "rt_int8_over_ort_fp32", "<=", 1.5)
    target("90%-sparse int8 LeNet-300-100 2x faster than dense int8", "lenet300", "rt_int8_dense_over_sparse",
           ">=", 2.0)
    out["targets"] = targets

    cols = ["shrink-rt:fp32", "shrink-rt:int16", "shrink-rt:int8", "shrink-rt:sparse-int8", "onnxruntime:fp32",
            "onnxruntime:int8", "libtorch:fp32"]
    err = sys.stderr
    err.write("%-12s" % "model" + "".join("%16s" % c.replace("shrink-rt:", "rt:").replace("onnxruntime:", "ort:")
                                          for c in cols) + "\n")
    for m, v in out["models"].items():
        err.write("%-12s" % m + "".join("%16.1f" % v["median_us"][c] for c in cols) + "\n")
    for tg in targets:
        err.write("%-58s %7.3f (bound %s) %s\n" % (tg["target"], tg["value"], tg["bound"], "met" if tg["met"] else
                                                   "NOT MET"))
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
