"""``TestRunner``: the synchronous public API over the asynchronous engine.

A runner holds a suite, its categories, the API settings and the results directory. Its
``execute_*`` methods run an :class:`~llmbench.engine.executor.Engine` on a private event loop
(in a helper thread when the caller already runs one) and return results in input order;
progress callbacks hear of each test as it ends, on a thread of their own
(:mod:`llmbench.engine.callbacks`). :meth:`TestRunner.score` scores results as a run does
(:mod:`llmbench.scoring.scored_results`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from llmbench import redact
from llmbench.config.api import APIConfiguration
from llmbench.config.base_config import HelperSection
from llmbench.config.metadata import SuiteMetadata, load_metadata
from llmbench.config.runner_config import RunnerConfig, load_runner_config
from llmbench.config.validation import did_you_mean
from llmbench.engine.callbacks import CallbackQueue, ProgressCallback
from llmbench.engine.executor import Engine, EngineSettings
from llmbench.engine.progress import ProgressTracker
from llmbench.errors import ConfigError, SuiteError
from llmbench.providers.embedded import MODEL_ALIAS, EmbeddedServer
from llmbench.report.write import write_summary_and_reports
from llmbench.result import ExecutionProgress, TestResult
from llmbench.scoring.judge import Judge
from llmbench.scoring.scored_results import ScoredResults, Transcript, score_results
from llmbench.scoring.specs import check_suite_scoring, needs_judge
from llmbench.store.results import SavedResults, save_results
from llmbench.store.run_dir import new_run_id
from llmbench.suite.loader import check_categories, load_categories, load_suite, unknown_id_message
from llmbench.suite.models import Category, Suite, TestCase

log = logging.getLogger("llmbench")
T = TypeVar("T")
_HANDLER_TAG = "_llmbench_handler"
TRANSCRIPTS_KEPT = 10_000
"""Interactive results whose conversations a runner keeps for :meth:`TestRunner.score`."""


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a new event loop, in a helper thread if one is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llmbench") as pool:
        return pool.submit(asyncio.run, coro).result()


class TestRunner:
    """Load a suite, point it at an OpenAI-compatible API, run tests and save the results.

    >>> runner = TestRunner()
    >>> runner.load_test_suite("test_definitions/reasoning_tests_complete.json")
    True
    >>> runner.configure_api("http://127.0.0.1:8000/v1", "my-model")  # doctest: +SKIP
    >>> results = runner.execute_concurrent(workers=4)  # doctest: +SKIP
    >>> runner.save_results(results)  # doctest: +SKIP

    Bad input raises :class:`~llmbench.errors.InputError` (a ``ValueError``) naming the file and
    the field; a test that fails at run time is a result with ``status="error"``, never an
    exception. Use it as a context manager (or call :meth:`close`) so that the embedded model,
    if one was started, is stopped.
    """

    __test__ = False

    def __init__(self, config_path: str | Path | None = None) -> None:
        self.config: RunnerConfig = load_runner_config(config_path)
        self.suite: Suite | None = None
        self.suite_path: Path | None = None
        self.metadata: SuiteMetadata | None = None
        self.categories: dict[str, Category] | None = None
        """The categories, with only the ids the loaded suite has."""
        self._categories_as_loaded: dict[str, Category] | None = None
        self.categories_path: Path | None = None
        self.last_results: list[TestResult] = []
        """Results of the latest ``execute_*`` call, also when it was interrupted."""
        self.last_saved: SavedResults | None = None
        self._api_override: dict[str, Any] = {}
        self._progress = ProgressTracker()
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._embedded: EmbeddedServer | None = None
        self._callbacks: list[ProgressCallback] = []
        self._transcripts: dict[int, tuple[TestResult, Transcript]] = {}
        """``id(result)`` -> the result and its conversation, for the latest interactive
        results (the judge reads the whole conversation)."""
        self._configure_logging()

    # -- configuration ------------------------------------------------------------------------

    def _configure_logging(self) -> None:
        settings = self.config.logging
        log.setLevel(settings.level)
        for handler in [h for h in log.handlers if getattr(h, _HANDLER_TAG, False)]:
            log.removeHandler(handler)
            handler.close()
        handlers: list[logging.Handler] = []
        # print to stderr only when the application has not configured logging itself
        own_console = not logging.getLogger().handlers
        if own_console:
            handlers.append(logging.StreamHandler())
        if settings.file:
            handlers.append(logging.FileHandler(settings.file, encoding="utf-8"))
        for handler in handlers:
            setattr(handler, _HANDLER_TAG, True)
            handler.setFormatter(logging.Formatter(settings.format))
            handler.addFilter(redact.RedactingFilter())
            log.addHandler(handler)
        log.propagate = not own_console

    def load_test_suite(self, path: str | Path) -> bool:
        """Load and validate a suite file. True on success; raises SuiteError on bad input."""
        suite = load_suite(path)
        if self._categories_as_loaded is not None:
            self.categories = check_categories(
                self._categories_as_loaded, suite.by_id(), self.categories_path
            )
        self.suite, self.suite_path = suite, Path(path)
        log.info("loaded %d tests from %s", len(suite.tests), path)
        return True

    def load_test_metadata(self, path: str | Path) -> bool:
        """Load suite metadata: API configuration and global settings. Raises ConfigError."""
        previous, self.metadata = self.metadata, load_metadata(path)
        try:
            self._api_from_layers()  # validate the endpoint and limits now, not at run time
        except ConfigError as exc:
            self.metadata = previous
            raise ConfigError(exc.detail, path=path) from None
        return True

    def load_categories(self, path: str | Path) -> bool:
        """Load category definitions. The ids a category names that the suite lacks (checked
        now, or when a suite is loaded) are left out with a warning."""
        self._categories_as_loaded = load_categories(path)
        self.categories_path = Path(path)
        known = self.suite.by_id() if self.suite is not None else None
        self.categories = (
            self._categories_as_loaded
            if known is None
            else check_categories(self._categories_as_loaded, known, path)
        )
        return True

    def configure_api(
        self,
        endpoint: str | None,
        model: str | None = None,
        headers: dict[str, str] | None = None,
        **settings: Any,
    ) -> APIConfiguration:
        """Override the metadata's API settings. ``settings`` takes any other
        :class:`APIConfiguration` field (``timeout``, ``retry_attempts``, ``api_key_env``, ...)."""
        known = {f.name for f in dataclasses.fields(APIConfiguration)}
        for key in settings:
            if key not in known:
                raise ConfigError(
                    f"configure_api: unknown setting '{key}'{did_you_mean(key, known)}"
                )
        override: dict[str, Any] = {"endpoint": endpoint, **settings}
        if model is not None:
            override["model"] = model
        if headers is not None:
            override["headers"] = dict(headers)
        previous = self._api_override
        self._api_override = {**previous, **override}
        try:
            return self._api_from_layers()
        except ConfigError:
            self._api_override = previous
            raise

    def _api_from_layers(self) -> APIConfiguration:
        d = self.config.api_defaults
        values: dict[str, Any] = {
            "timeout": d.timeout,
            "connect_timeout": d.connect_timeout,
            "retry_attempts": d.retry_attempts,
            "retry_delay": d.retry_delay,
            "retry_backoff": d.retry_backoff,
            "retry_budget_s": d.retry_budget_s,
            "stream": d.stream,
            "max_response_bytes": d.max_response_bytes,
        }
        if self.metadata is not None:
            api, g = self.metadata.api_config, self.metadata.global_settings
            layer = {
                "endpoint": api.endpoint,
                "model": api.model,
                "headers": dict(api.headers) if api.headers else None,
                "api_type": api.type,
                "api_key_env": api.api_key_env,
                "timeout": g.default_timeout_seconds,
                "retry_attempts": g.default_retry_attempts,
            }
            values.update({k: v for k, v in layer.items() if v is not None})
        values.update(self._api_override)
        return APIConfiguration(**values)

    @property
    def api_config(self) -> APIConfiguration:
        """The API settings in effect (defaults, runner config, metadata, ``configure_api``)."""
        return self._api_from_layers()

    # -- selecting tests ----------------------------------------------------------------------

    def _require_suite(self) -> Suite:
        if self.suite is None:
            raise SuiteError("no suite loaded; call load_test_suite(path) first")
        return self.suite

    def _select(self, test_ids: Sequence[str] | None) -> list[TestCase]:
        suite = self._require_suite()
        if test_ids is None:
            return list(suite.tests)
        if isinstance(test_ids, str):
            raise SuiteError(f"test_ids: expected a list of ids, got the string {test_ids!r}")
        by_id = suite.by_id()
        missing = [t for t in test_ids if t not in by_id]
        if missing:
            raise SuiteError(unknown_id_message(missing[0], by_id), path=self.suite_path)
        return [by_id[t] for t in test_ids]

    def category_test_ids(self, category: str) -> list[str]:
        """The ids in ``category``: from the categories file if loaded, else by the tests'
        ``category`` field."""
        suite = self._require_suite()
        if self.categories is not None and category in self.categories:
            return list(self.categories[category].test_ids)
        ids = [t.id for t in suite.tests if t.category == category]
        if not ids:
            names = {t.category for t in suite.tests} | set(self.categories or {})
            raise SuiteError(f"unknown category {category!r}{did_you_mean(category, names)}")
        return ids

    # -- running ------------------------------------------------------------------------------

    def _runtime_api(self) -> APIConfiguration:
        api = self._api_from_layers()
        if not api.is_embedded and not api.model:
            raise ConfigError("no model configured; set api_config.model or call configure_api")
        return self._served(api)

    def _served(self, api: APIConfiguration) -> APIConfiguration:
        """``api``, or the embedded model's server (started if need be) for ``"embedded"``."""
        if not api.is_embedded:
            return api
        if self._embedded is None or not self._embedded.running:
            self._embedded = EmbeddedServer().start()
        return dataclasses.replace(
            api, endpoint=self._embedded.base_url, model=api.model or MODEL_ALIAS
        )

    def _execute(self, tests: list[TestCase], workers: int, delay_s: float) -> list[TestResult]:
        api = self._runtime_api()
        settings = EngineSettings(
            save_raw_responses=self.config.execution_defaults.save_raw_responses,
            progress_reporting=self.config.execution_defaults.progress_reporting,
        )
        callbacks = CallbackQueue(lambda: self._callbacks)
        engine = Engine(api, settings, self._progress, on_result=callbacks.put)
        with self._lock:
            if self._engine is not None:
                raise RuntimeError("this TestRunner is already executing tests")
            self._engine = engine
        try:
            results = _run_coroutine(engine.run(tests, workers=workers, delay_s=delay_s))
        except BaseException:
            self.last_results = list(engine.partial)
            callbacks.close(wait=False)
            raise
        finally:
            self._keep_transcripts(engine.transcripts)
            with self._lock:
                self._engine = None
        callbacks.close()  # every callback has heard of every result before we return
        self.last_results = results
        return results

    def _keep_transcripts(self, transcripts: list[tuple[TestResult, Transcript]]) -> None:
        for result, transcript in transcripts:
            self._transcripts[id(result)] = (result, transcript)
        while len(self._transcripts) > TRANSCRIPTS_KEPT:  # the oldest go first
            del self._transcripts[next(iter(self._transcripts))]

    def execute_single_test(self, test_id: str) -> TestResult:
        """Run one test by id."""
        results = self._execute(self._select([test_id]), 1, 0.0)
        if not results:  # cancelled before it started
            raise RuntimeError(f"test {test_id} was not started: execution was cancelled")
        return results[0]

    def execute_sequential(
        self, test_ids: Sequence[str] | None = None, delay: float | None = None
    ) -> list[TestResult]:
        """Run tests one after another, ``delay`` seconds apart (default from the config)."""
        if delay is None:
            meta = self.metadata.global_settings.delay_between_tests if self.metadata else None
            delay = meta if meta is not None else self.config.execution_defaults.sequential_delay
        if delay < 0:
            raise ConfigError(f"delay: expected a number >= 0, got {delay!r}")
        return self._execute(self._select(test_ids), 1, float(delay))

    def execute_concurrent(
        self, test_ids: Sequence[str] | None = None, workers: int | None = None
    ) -> list[TestResult]:
        """Run tests with up to ``workers`` requests in flight; results in input order.

        ``workers`` defaults to the metadata's ``execution_modes.concurrent.default_workers``,
        else ``execution_defaults.concurrent_workers``, and is capped at ``max_workers``.
        """
        concurrent_mode = self.metadata.execution_modes.concurrent if self.metadata else None
        if workers is None:
            workers = (concurrent_mode.default_workers if concurrent_mode else None) or (
                self.config.execution_defaults.concurrent_workers
            )
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError(f"workers: expected an integer >= 1, got {workers!r}")
        cap = concurrent_mode.max_workers if concurrent_mode else None
        if cap is not None and workers > cap:
            log.warning(
                "workers=%d is above execution_modes.concurrent.max_workers=%d; using %d",
                workers,
                cap,
                cap,
            )
            workers = cap
        return self._execute(self._select(test_ids), workers, 0.0)

    def execute_category(self, category: str, workers: int | None = None) -> list[TestResult]:
        """Run every test of ``category``: sequentially, or concurrently when ``workers`` is
        given."""
        ids = self.category_test_ids(category)
        if workers is None:
            return self.execute_sequential(ids)
        return self.execute_concurrent(ids, workers)

    def _kept_transcripts(self, results: Sequence[TestResult]) -> dict[int, Transcript]:
        """``id(result)`` -> conversation, for those of ``results`` this runner ran."""
        found: dict[int, Transcript] = {}
        for result in results:
            kept = self._transcripts.get(id(result))
            if kept is not None and kept[0] is result:
                found[id(result)] = kept[1]
        return found

    def add_progress_callback(self, callback: ProgressCallback) -> None:
        """Call ``callback(progress, result)`` as each test ends (``execute_*``, cancelled
        tests included): ``progress`` is the :class:`ExecutionProgress` just after that test
        ended, ``result`` its :class:`TestResult`.

        Callbacks run in one thread of their own, in the order tests end, so a slow one never
        slows the requests; ``execute_*`` returns once every call was made. A callback that
        raises is logged once per run and keeps being called; the run goes on."""
        if not callable(callback):
            raise TypeError(f"add_progress_callback: expected a callable, got {callback!r}")
        self._callbacks.append(callback)

    def remove_progress_callback(self, callback: ProgressCallback) -> None:
        """Stop calling ``callback`` (from the next test that ends); ValueError if it was not
        added."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            raise ValueError(f"{callback!r} is not a progress callback of this runner") from None

    def get_progress(self) -> ExecutionProgress:
        """A snapshot of the current (or last) run; safe from any thread."""
        return self._progress.snapshot()

    def cancel_execution(self) -> bool:
        """Stop the running execution: no new test starts, requests in flight are cancelled and
        come back as ``cancelled`` results. Safe from another thread or a signal handler.
        Returns False when nothing was running."""
        engine = self._engine
        if engine is None:
            return False
        engine.request_cancel()
        return True

    # -- results ------------------------------------------------------------------------------

    def output_directory(self, output_dir: str | Path | None = None) -> Path:
        """Where :meth:`save_results` writes: the argument, the metadata's
        ``global_settings.output_directory``, or ``output_settings.results_directory``."""
        if output_dir is not None:
            return Path(output_dir)
        meta = self.metadata.global_settings.output_directory if self.metadata else None
        return Path(meta or self.config.output_settings.results_directory)

    def save_results(
        self, results: Sequence[TestResult], output_dir: str | Path | None = None
    ) -> bool:
        """Write one JSON file per result and a batch file with a summary. Raises ResultsError
        when the directory cannot be written."""
        api = self._api_from_layers()
        info: dict[str, Any] = {"api_configuration": api.redacted()}
        if self.suite is not None:
            info["suite_info"] = self.suite.suite_info
            info["suite_file"] = str(self.suite_path)
        self.last_saved = save_results(
            results, self.output_directory(output_dir), self.config.output_settings, info
        )
        log.info("saved %d results to %s", len(results), self.last_saved.directory)
        return True

    def score(
        self,
        results: TestResult | Sequence[TestResult],
        *,
        judge: APIConfiguration | None = None,
        report_dir: str | Path | None = None,
        agent_id: str | None = None,
    ) -> ScoredResults:
        """Score results of ``execute_*`` as ``llmbench run`` does, and summarise them.

        Each result is scored by its test's ``scoring`` specs (or the defaults from
        ``expected``); a test's n-th result in ``results`` is its repeat n-1. ``judge`` is the
        endpoint that grades the tests scored by the judge (``"embedded"`` for the embedded
        model), asked as ``[supervisor]``'s defaults say; without it those results get the
        scoring error ``judge: no judge configured`` (counted as errors, never as zeros).
        The summary is a run's ``summary.json`` for one agent, ``agent_id`` (default: the
        model); ``report_dir`` also gets ``summary.json``, ``report.md`` and ``report.html``.
        Raises SuiteError for a bad ``scoring`` spec, ResultsError when a report cannot be
        written."""
        chosen = [results] if isinstance(results, TestResult) else list(results)
        suite = self._require_suite()
        check_suite_scoring(suite, self.suite_path)
        tests = suite.by_id()
        grader = None
        if judge is not None:
            if not judge.is_embedded and not judge.model:
                raise ConfigError("score: judge: no model configured; set the judge's model")
            grader = Judge.for_supervisor(self._served(judge), HelperSection())
        elif needs_judge([tests[r.test_id] for r in chosen if r.test_id in tests]):
            log.warning(
                "some tests are scored by the judge and score() was given none: their results "
                "count as errors; pass judge=APIConfiguration(endpoint, model)"
            )
        api = self._api_from_layers()
        model = next((r.model for r in chosen if r.model), api.model)
        endpoint = next((r.endpoint for r in chosen if r.endpoint), api.endpoint or "")
        agent = {
            "agent_id": agent_id or model or "agent",
            "model": model or None,
            "endpoint": redact.strip_url(endpoint),
        }
        scored = _run_coroutine(
            score_results(
                chosen,
                tests,
                agent=agent,
                judge=grader,
                run_id=new_run_id(),
                transcripts=self._kept_transcripts(chosen),
            )
        )
        if report_dir is not None:
            paths = write_summary_and_reports(
                Path(report_dir), scored.summary, scored.results, scored.records.__getitem__
            )
            scored = dataclasses.replace(scored, reports=paths)
        return scored

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the embedded model if this runner started it."""
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    def __enter__(self) -> TestRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
