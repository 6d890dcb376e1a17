"""Generate the demo sales data in ``sales.csv`` (deterministic, seed 42).

This is how ``data/sales.csv`` was made; run it again only to regenerate it:

    cd data && ../.venv/bin/python make_sales.py

The data is fake but deliberately a little dirty, so the cleaning notebook
has something to do: about 2% exact duplicate rows, a few rows with empty
``units``, a few with negative ``units`` and a few regions written with stray
whitespace or in lower case (e.g. " north").
"""

import csv
import random
from datetime import date, timedelta
from pathlib import Path

SEED = 42
N_ORDERS = 1470
REGIONS = ["North", "South", "East", "West"]
PRODUCTS = {  # name: (unit price, relative popularity)
    "Espresso beans 1kg": (24.90, 5),
    "Filter coffee 500g": (11.50, 6),
    "Green tea 100 bags": (7.80, 4),
    "Ceramic mug": (9.00, 3),
    "Milk frother": (39.00, 1),
    "Pour-over kit": (32.50, 1),
}


def main() -> None:
    rng = random.Random(SEED)
    start, days = date(2026, 1, 1), (date(2026, 6, 30) - date(2026, 1, 1)).days
    names = list(PRODUCTS)
    weights = [PRODUCTS[n][1] for n in names]
    rows = []
    for i in range(N_ORDERS):
        product = rng.choices(names, weights)[0]
        price = PRODUCTS[product][0]
        rows.append({
            "order_id": f"SO-{10001 + i}",
            "date": (start + timedelta(days=rng.randint(0, days))).isoformat(),
            "region": rng.choices(REGIONS, [3, 2, 2, 3])[0],
            "product": product,
            "units": str(rng.randint(1, 12)),
            "unit_price": f"{price * rng.choice([1, 1, 1, 0.9]):.2f}",  # some discounts
        })
    rows.sort(key=lambda r: (r["date"], r["order_id"]))

    # Dirt for the cleaning step.
    for r in rng.sample(rows, 8):
        r["units"] = ""
    for r in rng.sample(rows, 6):
        r["units"] = str(-rng.randint(1, 5))
    for r in rng.sample(rows, 10):
        r["region"] = rng.choice([" " + r["region"].lower(), r["region"].lower(), r["region"] + " "])
    for r in rng.sample(rows, 30):  # ~2% exact duplicates, placed right after the original
        rows.insert(rows.index(r) + 1, dict(r))

    out = Path(__file__).with_name("sales.csv")
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
