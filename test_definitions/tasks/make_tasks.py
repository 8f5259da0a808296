"""Make the data-analysis tasks of the example suites, reproducibly (fixed seeds, standard
library only, nothing downloaded): ``python test_definitions/tasks/make_tasks.py``.

Each task gets ``<task>/data/train.csv`` and ``<task>/data/test.csv`` (what the agent sees, under
``/data``) and ``<task>/reference.csv`` (the answers for the test rows, kept apart: never bound
into the sandbox), and ``test_definitions/data_analysis.json`` gets the suite of both tasks,
with baselines computed here from a simple model:

- ``houses`` (regression, RMSE): price from area, rooms and age; the baseline predicts the mean
  price of the training rows, and the context names what a least-squares fit on area and rooms
  gets.
- ``churn`` (classification, accuracy): whether a customer leaves, from tenure, monthly charge
  and support calls; the baseline predicts the most common class of the training rows.

``tests/test_data_tasks.py`` checks that running this again gives the files in the repository.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE.parent / "data_analysis.json"


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """``a x = b`` by Gaussian elimination with partial pivoting (a few unknowns)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                m[r] = [x - factor * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _least_squares(xs: list[list[float]], ys: list[float]) -> list[float]:
    """Coefficients (intercept first) of the least-squares fit of ``ys`` on ``xs``."""
    rows = [[1.0, *x] for x in xs]
    k = len(rows[0])
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    atb = [sum(r[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(k)]
    return _solve(ata, atb)


def _rmse(truth: Sequence[float], predicted: Sequence[float]) -> float:
    return math.sqrt(sum((t - p) ** 2 for t, p in zip(truth, predicted, strict=True)) / len(truth))


def make_houses(seed: int = 17, n_train: int = 160, n_test: int = 40) -> dict[str, float]:
    rng = random.Random(seed)
    rows = []
    for i in range(n_train + n_test):
        area = rng.randint(40, 220)
        rooms = max(1, min(7, round(area / 35 + rng.gauss(0, 0.8))))
        age = rng.randint(0, 80)
        price = 1500 * area + 8000 * rooms - 600 * age + 40000 + rng.gauss(0, 20000)
        rows.append((i + 1, area, rooms, age, int(round(price, -2))))
    train, test = rows[:n_train], rows[n_train:]
    task = HERE / "houses"
    _write(task / "data" / "train.csv", ("id", "area", "rooms", "age", "price"), train)
    _write(task / "data" / "test.csv", ("id", "area", "rooms", "age"), [r[:4] for r in test])
    _write(task / "reference.csv", ("id", "price"), [(r[0], r[4]) for r in test])
    mean = sum(r[4] for r in train) / len(train)
    truth = [r[4] for r in test]
    coef = _least_squares([[r[1], r[2]] for r in train], [r[4] for r in train])
    fitted = [coef[0] + coef[1] * r[1] + coef[2] * r[2] for r in test]
    return {"baseline": round(_rmse(truth, [mean] * len(test))), "linear": _rmse(truth, fitted)}


def make_churn(seed: int = 29, n_train: int = 200, n_test: int = 50) -> dict[str, float]:
    rng = random.Random(seed)
    rows = []
    for i in range(n_train + n_test):
        tenure = rng.randint(1, 72)
        monthly = rng.randint(20, 120)
        calls = rng.choice((0, 0, 0, 1, 1, 2, 3, 4, 5))
        odds = -1.5 - 0.05 * tenure + 0.02 * monthly + 0.6 * calls + rng.gauss(0, 0.7)
        rows.append((i + 1, tenure, monthly, calls, "yes" if odds > 0 else "no"))
    train, test = rows[:n_train], rows[n_train:]
    task = HERE / "churn"
    header = ("id", "tenure_months", "monthly_charge", "support_calls")
    _write(task / "data" / "train.csv", (*header, "churn"), train)
    _write(task / "data" / "test.csv", header, [r[:4] for r in test])
    _write(task / "reference.csv", ("id", "churn"), [(r[0], r[4]) for r in test])
    majority = max(("yes", "no"), key=lambda c: sum(r[4] == c for r in train))
    accuracy = sum(r[4] == majority for r in test) / len(test)
    return {"baseline": accuracy}


def suite(houses: dict[str, float], churn: dict[str, float]) -> dict[str, object]:
    """Both tasks as interactive tests (the instructor guides, the supervisor checks)."""
    return {
        "suite_info": {
            "name": "llmbench data-analysis tasks",
            "version": "1.0.0",
            "description": "Two small data-analysis tasks judged by the file the agent writes: "
            "a regression (house prices, RMSE) and a classification (customer churn, accuracy).",
        },
        "tests": [
            {
                "id": "houses_price",
                "name": "Predict house prices",
                "category": "data_analysis",
                "type": "interactive",
                "tools": ["python"],
                "files": "tasks/houses/data",
                "instructions": [
                    "Ask the agent to load /data/train.csv and look at its columns.",
                    "Ask for a model of price from the other columns.",
                    "Ask it to predict the price of every row of /data/test.csv and write "
                    "/home/agent/submission.csv with the columns id,price.",
                ],
                "context": "Predicting the mean price gets an RMSE of about "
                f"{houses['baseline']:,.0f}; a least-squares fit on area and rooms gets about "
                f"{houses['linear']:,.0f}.",
                "parameters": {"max_tokens": 512, "temperature": 0.0},
                "max_tool_calls": 6,
                "time_limit_s": 300,
                "scoring": [
                    {
                        "type": "submission",
                        "file": "submission.csv",
                        "reference": "tasks/houses/reference.csv",
                        "id_column": "id",
                        "target_column": "price",
                        "metric": "rmse",
                        "baseline": houses["baseline"],
                        "best": 0,
                    }
                ],
            },
            {
                "id": "churn_customers",
                "name": "Predict which customers leave",
                "category": "data_analysis",
                "type": "interactive",
                "tools": ["python"],
                "files": "tasks/churn/data",
                "instructions": [
                    "Ask the agent to load /data/train.csv and say how many customers left "
                    "(churn = yes).",
                    "Ask for a model of churn from the other columns.",
                    "Ask it to predict churn (yes or no) for every row of /data/test.csv and "
                    "write /home/agent/submission.csv with the columns id,churn.",
                ],
                "context": "Predicting the most common class gets an accuracy of "
                f"{churn['baseline']:.2f}; short tenure and many support calls mean churn.",
                "parameters": {"max_tokens": 512, "temperature": 0.0},
                "max_tool_calls": 6,
                "time_limit_s": 300,
                "scoring": [
                    {
                        "type": "submission",
                        "file": "submission.csv",
                        "reference": "tasks/churn/reference.csv",
                        "id_column": "id",
                        "target_column": "churn",
                        "metric": "accuracy",
                        "baseline": churn["baseline"],
                        "best": 1,
                    }
                ],
            },
        ],
    }


def main() -> None:
    houses, churn = make_houses(), make_churn()
    SUITE.write_text(json.dumps(suite(houses, churn), indent=2) + "\n", encoding="utf-8")
    print(f"houses: baseline RMSE {houses['baseline']:,.0f}, linear {houses['linear']:,.0f}")
    print(f"churn: baseline accuracy {churn['baseline']:.2f}")
    print(f"wrote {SUITE}")


if __name__ == "__main__":
    main()
