"""The results schema: what catgan.eval.evaluate writes (results/table1.json), and what model cards,
publishing and the Table 1 markdown read. There is no other shape.

    {"protocol": {...how it was measured...},
     "rows": [{"name": "dcgan-64", "source": "weights/dcgan-64", "n": 10000, "img_size": 64,
               "judges": {"efficientnet_lite0": {"cat_rate", "ci95": [lo, hi], "n", "cats", "mean_p_cat",
                                                 "big_cat_rate"}, ...},
               "fid": float, "kid": float, "kid_std": float, "near_copy_fraction": float | None,
               "fid_note": str (the real row: split-half), ...}, ...]}
"""
from __future__ import annotations

import json
import os
from pathlib import Path

REQUIRED = ("name", "source", "n", "judges", "fid", "kid", "kid_std")


def read_table(path: str | os.PathLike) -> dict:
    """A results JSON, checked against the schema; FileNotFoundError or ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    try:
        table = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not JSON ({e})") from None
    check_table(table, str(path))
    return table


def check_table(table, where: str = "results") -> None:
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        raise ValueError(f"{where} is not a catgan.eval.evaluate results table (no 'rows' list)")
    for i, row in enumerate(table["rows"]):
        missing = [k for k in REQUIRED if not isinstance(row, dict) or k not in row]
        if missing:
            raise ValueError(f"{where}: row {i} lacks {missing}; write it with python -m catgan.eval.evaluate")


def find_row(table: dict, names: list[str]) -> dict | None:
    """The row whose ``source`` or ``name`` matches one of ``names`` (tried in order: paths before bare
    folder names), with the table's protocol folded in; None if there is none."""
    check_table(table)
    for wanted in (_norm(n) for n in names if n):
        for row in table["rows"]:
            if wanted in (_norm(row["source"]), _norm(row["name"])):
                return {"protocol": table.get("protocol"), **row}
    return None


def render_markdown(table: dict) -> str:
    """Table 1 as markdown, then the protocol."""
    rows, protocol = table["rows"], table["protocol"]
    names = [j["name"] for j in protocol["judges"]]
    head = ["set", "n"] + [f"cat-rate {n} [95% CI]" for n in names] + [f"mean P(cat) {n}" for n in names]
    head += ["FID", "KID x10^3", "near-copies"]
    lines = ["# Table 1", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], str(r["n"])]
        cells += [f"{100 * r['judges'][n]['cat_rate']:.1f}% [{100 * r['judges'][n]['ci95'][0]:.1f}, "
                  f"{100 * r['judges'][n]['ci95'][1]:.1f}]" for n in names]
        cells += [f"{r['judges'][n]['mean_p_cat']:.3f}" for n in names]
        fid = f"{r['fid']:.2f}" + (" (split-half)" if r.get("fid_note") else "")
        copies = "—" if r.get("near_copy_fraction") is None else f"{100 * r['near_copy_fraction']:.2f}%"
        cells += [fid, f"{1000 * r['kid']:.2f} ± {1000 * r['kid_std']:.2f}", copies]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Protocol", "", "```json", json.dumps(protocol, indent=2), "```", ""]
    return "\n".join(lines)


def merge_rows(table: dict, protocol: dict, rows: list[dict]) -> dict:
    """``table`` with ``rows`` in place of the rows of the same source (new sources go last), under
    ``protocol`` (how the new rows were measured), which keeps the table's first date and its real
    sets and records which rows were updated when."""
    by_source = {_norm(r["source"]): r for r in rows}
    merged = [by_source.pop(_norm(r["source"]), r) for r in table["rows"]]
    merged += list(by_source.values())
    old = table["protocol"]
    protocol = {**protocol, "config": {**protocol["config"], "models": [r["source"] for r in merged
                                                                         if r["name"] != "real"]},
                "real": {str(k): v for part in (old.get("real", {}), protocol["real"]) for k, v in part.items()},
                "updated": {"rows": [r["source"] for r in rows], "date": protocol["date"]},
                "date": old.get("date")}  # when the table was first measured
    return {"protocol": protocol, "rows": merged}


def _norm(name: str) -> str:
    return str(name).strip().rstrip("/").removeprefix("./")
