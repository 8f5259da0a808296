"""Run the example suite on the embedded model (or on ``--endpoint``), save and show the results.

python examples/quickstart.py                       # embedded SmolLM2-135M-Instruct
python examples/quickstart.py --endpoint http://127.0.0.1:8000/v1 --model qwen2.5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmbench import InputError, LlmbenchError, TestResult, TestRunner

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "test_definitions"


def show(results: list[TestResult], expected: dict[str, object]) -> None:
    """Print one line per test and the speed figures."""
    print(f"{'test':<14} {'status':<9} {'latency':>8} {'ttft':>6} {'tok/s':>6}  answer  [expected]")
    for r in results:
        answer = (
            " ".join(r.response_text.split())[:48]
            if r.status == "ok"
            else (r.error_message or "")[:48]
        )
        ttft = f"{r.time_to_first_token:.2f}" if r.time_to_first_token is not None else "-"
        tps = f"{r.tokens_per_second:.0f}" if r.tokens_per_second is not None else "-"
        print(
            f"{r.test_id:<14} {r.status:<9} {r.execution_time:>7.2f}s {ttft:>6} {tps:>6}  "
            f"{answer}  [{expected.get(r.test_id)}]"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", help="OpenAI-compatible URL; default: the embedded model")
    parser.add_argument("--model", help="model name sent to --endpoint")
    parser.add_argument("--workers", type=int, default=2, help="tests in flight (default 2)")
    parser.add_argument("--output", default="results", help="results directory (default results/)")
    args = parser.parse_args()
    try:
        with TestRunner() as runner:
            runner.load_test_suite(SUITE / "reasoning_tests_complete.json")
            runner.load_test_metadata(SUITE / "test_suite_metadata.json")
            runner.load_categories(SUITE / "categories.json")
            if args.endpoint:
                runner.configure_api(args.endpoint, args.model)
            results = runner.execute_concurrent(workers=args.workers)
            runner.save_results(results, args.output)
            assert runner.suite is not None and runner.last_saved is not None
            show(results, {t.id: t.expected for t in runner.suite.tests})
            ok = sum(r.success for r in results)
            print(
                f"\n{ok}/{len(results)} tests answered; results in {runner.last_saved.batch_file}"
            )
            return 0 if ok == len(results) else 1
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LlmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
