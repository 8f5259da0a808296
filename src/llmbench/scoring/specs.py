"""A test's ``scoring`` list: the spec of each scorer, parsed strictly, and the scorers built.

A test may carry ``"scoring": [{"type": "numeric", "rel_tol": 0.01}, ...]``; each entry is one
of the spec models below, told apart by ``type``. Unknown keys and wrong types are errors
(:class:`~llmbench.errors.SuiteError` naming the test, the entry and the field), raised by
:func:`check_suite_scoring` before a run starts.

Without ``scoring`` (or with ``"scoring": null``), a test with an ``expected`` value is scored by
``numeric`` when it is a number and by ``exact`` otherwise; a test with neither has no scorers.
A test whose ``evaluation_config.expected_indicators`` lists words also gets the secondary
``reasoning`` scorer (unless its ``scoring`` has one). ``judge`` specs are parsed here but the
judge is built by :mod:`llmbench.scoring.judge`: :func:`scorers_for` leaves it out and
:func:`judge_spec` returns it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmbench.config.validation import did_you_mean, explain
from llmbench.errors import SuiteError
from llmbench.scoring.base import Scorer
from llmbench.scoring.choice import ChoiceScorer
from llmbench.scoring.contains import ContainsScorer
from llmbench.scoring.exact import ExactScorer
from llmbench.scoring.json_scorer import JsonScorer, check_schema
from llmbench.scoring.normalize import TextOptions, as_text, normalize
from llmbench.scoring.numeric import Number, NumericScorer, format_number, parse_number
from llmbench.scoring.python_exec import FunctionPrompt, PythonScorer
from llmbench.scoring.reasoning import ReasoningScorer
from llmbench.scoring.regex import RegexScorer, compile_pattern
from llmbench.scoring.sandbox import SandboxLimits
from llmbench.scoring.submission import DEFAULT_FILE, DEFAULT_MAX_BYTES, METRICS, SubmissionScorer
from llmbench.suite.models import Suite, TestCase

if TYPE_CHECKING:
    from llmbench.sandbox.settings import SandboxSettings


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExactSpec(_Spec):
    """``exact``: the whole normalised answer equals an acceptable value."""

    type: Literal["exact"]
    value: str | int | float | list[str | int | float] | None = None
    """Acceptable value(s); default: the test's ``expected``."""
    case_sensitive: bool = False
    normalize_whitespace: bool = True
    ignore_punctuation: bool = True


class ContainsSpec(_Spec):
    """``contains``: phrases the answer must mention."""

    type: Literal["contains"]
    all: list[str] | None = Field(None, min_length=1)
    """Every phrase must occur; the value is the fraction found."""
    any: list[str] | None = Field(None, min_length=1)
    """One phrase is enough; the value is 1 or 0."""
    case_sensitive: bool = False
    whole_words: bool = True
    """A phrase does not match inside a longer word."""

    @model_validator(mode="after")
    def _one_list(self) -> ContainsSpec:
        if self.all is not None and self.any is not None:
            raise ValueError("give 'all' or 'any', not both (use two contains entries)")
        return self


class RegexSpec(_Spec):
    """``regex``: a Python regular expression."""

    type: Literal["regex"]
    pattern: str
    flags: str = ""
    """Letters: ``i`` ignore case, ``m`` multiline, ``s`` dot matches newline, ``x`` verbose."""
    match: Literal["search", "fullmatch"] = "search"

    @model_validator(mode="after")
    def _compiles(self) -> RegexSpec:
        try:
            compile_pattern(self.pattern, self.flags)
        except ValueError as exc:
            where = "flags" if str(exc).startswith("unknown flag") else "pattern"
            raise ValueError(f"field '{where}': {exc}") from None
        return self


class NumericSpec(_Spec):
    """``numeric``: the last number of the answer, within tolerance."""

    type: Literal["numeric"]
    value: int | float | str | None = None
    """The expected number (``"25%"`` allowed); default: the test's ``expected``."""
    abs_tol: float = Field(1e-6, ge=0)
    rel_tol: float = Field(0.0, ge=0)


class ChoiceSpec(_Spec):
    """``choice``: the option letter of a multiple-choice answer."""

    type: Literal["choice"]
    choices: str = "ABCD"
    """The option letters, upper case."""
    options: dict[str, str] | None = None
    """Letter -> option text; lets ``expected`` be the text and the answer name the text."""

    @model_validator(mode="after")
    def _letters(self) -> ChoiceSpec:
        letters = self.choices
        if not (letters.isascii() and letters.isupper() and letters.isalpha() and len(letters) > 1):
            raise ValueError(
                f"field 'choices': expected upper-case letters like 'ABCD', got {letters!r}"
            )
        if len(set(letters)) != len(letters):
            raise ValueError(f"field 'choices': repeats a letter, got {letters!r}")
        for key in self.options or {}:
            if key not in self.choices:
                raise ValueError(f"field 'options': {key!r} is not one of {self.choices!r}")
        return self


class JsonSpec(_Spec):
    """``json``: valid JSON, optionally matching a schema and equal to ``expected``."""

    type: Literal["json"]
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    """A JSON Schema the value must validate against."""
    equals: bool = False
    """The value must equal the test's ``expected``."""

    @model_validator(mode="after")
    def _schema_valid(self) -> JsonSpec:
        if self.json_schema is not None:
            try:
                check_schema(self.json_schema)
            except ValueError as exc:
                raise ValueError(f"field 'schema': {exc}") from None
        return self


class PythonSpec(_Spec):
    """``python``: run the answer's code and assertions in a sandbox."""

    type: Literal["python"]
    assertions: str | list[str] | None = None
    """Default: the test's ``assertions``; a string is one assertion (it may hold statements)."""
    answer: Literal["program", "function"] = "program"
    """``program``: the answer's code runs as it is. ``function``: the test's prompt opens a
    function (HumanEval) and the answer is that whole function or its body (see
    :mod:`llmbench.scoring.python_exec`)."""
    timeout_s: float = Field(10.0, gt=0, le=600)
    memory_mb: int = Field(512, ge=64, le=65536)


class ReasoningSpec(_Spec):
    """``reasoning`` (secondary): the share of indicator words in the answer."""

    type: Literal["reasoning"]
    indicators: list[str] | None = None
    """Default: the test's ``evaluation_config.expected_indicators``."""
    threshold: float = Field(0.5, ge=0, le=1)


class JudgeSpec(_Spec):
    """``judge``: the supervisor model grades the answer (built by :mod:`.judge`)."""

    type: Literal["judge"]
    rubric: str | None = None
    pass_score: int | None = Field(None, ge=0, le=10)
    """Judge score out of 10 needed to pass; default: the supervisor's setting."""
    include_reasoning: bool = False
    """Show the judge the model's thinking too (``reasoning_text``), marked as such; the
    answer alone is graded either way. Off: the judge sees only the answer."""


class SubmissionSpec(_Spec):
    """``submission``: the file the agent wrote in ``/home/agent``, judged by a metric against a
    baseline (see :mod:`llmbench.scoring.submission`)."""

    type: Literal["submission"]
    file: str = DEFAULT_FILE
    """The submission, relative to ``/home/agent`` (no ``..``, not absolute)."""
    reference: str
    """The file of the right answers, relative to the suite file (the loader makes it
    absolute and checks that it exists); never shown to the agent."""
    id_column: str | None = None
    """The column matching rows of the submission to the reference; needed with a metric."""
    target_column: str | None = None
    """The column holding the prediction; needed with a metric."""
    metric: str | None = None
    """``accuracy``, ``f1`` (macro), ``rmse``, ``mae``, ``r2`` or ``auc``; or give
    ``evaluator``."""
    evaluator: str | None = None
    """A Python file of the task (relative to the suite file) defining
    ``evaluate(reference_path, submission_path) -> float``, run in the sandbox."""
    higher_is_better: bool | None = None
    """Follows from ``metric``; required with an ``evaluator``."""
    baseline: float = Field(allow_inf_nan=False)
    """The metric of a simple model: skill 0, "baseline achieved" from there on."""
    best: float | None = Field(None, allow_inf_nan=False)
    """Skill 1; default: the metric's ideal (1 for accuracy, f1, r2, auc; 0 for rmse, mae);
    required with an ``evaluator``."""
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    """A larger submission is invalid (its size is read, never its contents)."""

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not value.strip() or "\0" in value or str(path) == ".":
            raise ValueError(f"expected a file name like 'submission.csv', got {value!r}")
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(
                "expected a path inside /home/agent, relative to it and without '..', like "
                f"'submission.csv', got {value!r}"
            )
        return path.as_posix()

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRICS:
            known = ", ".join(METRICS)
            hint = did_you_mean(value, METRICS)
            raise ValueError(f"unknown metric {value!r}{hint or ''} (one of {known})")
        return value

    @field_validator("reference", "evaluator", "id_column", "target_column")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\0" in value):
            raise ValueError(f"expected a non-empty string, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SubmissionSpec:
        if (self.metric is None) == (self.evaluator is None):
            both = "not both" if self.metric is not None else "one is needed"
            raise ValueError(f"give 'metric' or 'evaluator', {both}")
        if self.metric is not None:
            metric = METRICS[self.metric]
            for key in ("id_column", "target_column"):
                if getattr(self, key) is None:
                    raise ValueError(f"missing required field '{key}' (a metric needs it)")
            if (
                self.higher_is_better is not None
                and self.higher_is_better != metric.higher_is_better
            ):
                way = "higher" if metric.higher_is_better else "lower"
                raise ValueError(
                    f"field 'higher_is_better': {self.metric} is better {way}; leave it out"
                )
        else:
            for key in ("higher_is_better", "best"):
                if getattr(self, key) is None:
                    raise ValueError(f"missing required field '{key}' (an evaluator needs it)")
        if (self.id_column is None) != (self.target_column is None):
            raise ValueError("give both 'id_column' and 'target_column', or neither")
        best, higher = self.best_value, self.higher
        if best == self.baseline:
            raise ValueError(f"field 'best': equals 'baseline' ({best:g}); skill needs them apart")
        if (best > self.baseline) != higher:
            side = "above" if higher else "below"
            raise ValueError(
                f"field 'best': {best:g} must be {side} 'baseline' ({self.baseline:g}) when "
                f"{'higher' if higher else 'lower'} is better"
            )
        return self

    @property
    def higher(self) -> bool:
        """Whether a higher metric is better."""
        if self.metric is not None:
            return METRICS[self.metric].higher_is_better
        return bool(self.higher_is_better)

    @property
    def best_value(self) -> float:
        """``best``, or the metric's ideal."""
        if self.best is not None:
            return self.best
        return METRICS[self.metric].best if self.metric is not None else 0.0


ScorerSpec = Annotated[
    ExactSpec
    | ContainsSpec
    | RegexSpec
    | NumericSpec
    | ChoiceSpec
    | JsonSpec
    | PythonSpec
    | ReasoningSpec
    | JudgeSpec
    | SubmissionSpec,
    Field(discriminator="type"),
]
SPEC_TYPES: dict[str, type[_Spec]] = {
    "exact": ExactSpec,
    "contains": ContainsSpec,
    "regex": RegexSpec,
    "numeric": NumericSpec,
    "choice": ChoiceSpec,
    "json": JsonSpec,
    "python": PythonSpec,
    "reasoning": ReasoningSpec,
    "judge": JudgeSpec,
    "submission": SubmissionSpec,
}


def _spec_problem(exc: ValidationError, model: type[_Spec]) -> str:
    err = exc.errors(include_url=False)[0]
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        known = [info.alias or name for name, info in model.model_fields.items()]
        hint = did_you_mean(key, [k for k in known if k != "type"])
        return f"unknown key '{key}'{hint or '; known keys: ' + ', '.join(sorted(known))}"
    if err["type"] == "value_error":
        message = err["msg"].removeprefix("Value error, ")
        return f"field '{err['loc'][0]}': {message}" if err["loc"] else message
    return explain(exc, model)


def parse_spec(raw: Any, where: str) -> ScorerSpec:
    """One ``scoring`` entry as its spec model; ``where`` prefixes the error message."""
    if not isinstance(raw, dict):
        raise SuiteError(f'{where}: expected an object like {{"type": "exact"}}, got {raw!r}')
    kind = raw.get("type")
    known = ", ".join(SPEC_TYPES)
    if kind is None:
        raise SuiteError(f"{where}: missing 'type' (one of {known})")
    if not isinstance(kind, str) or kind not in SPEC_TYPES:
        hint = did_you_mean(kind, SPEC_TYPES) if isinstance(kind, str) else ""
        raise SuiteError(f"{where}: unknown type {kind!r}{hint or f' (one of {known})'}")
    model = SPEC_TYPES[kind]
    try:
        spec: ScorerSpec = model.model_validate(raw)  # type: ignore[assignment]
    except ValidationError as exc:
        raise SuiteError(f"{where} ({kind}): {_spec_problem(exc, model)}") from None
    return spec


def specs_for(test: TestCase) -> list[ScorerSpec]:
    """The test's scorer specs: its ``scoring`` list, or the default; plus ``reasoning``."""
    raw = (test.model_extra or {}).get("scoring")
    if raw is None:
        specs = _default_specs(test)
    elif not isinstance(raw, list):
        raise SuiteError(
            f"test {test.id!r}: 'scoring': expected a list of scorer specs, got {raw!r}"
        )
    else:
        specs = [parse_spec(r, f"test {test.id!r}: scoring[{i}]") for i, r in enumerate(raw)]
    if sum(isinstance(s, JudgeSpec) for s in specs) > 1:
        raise SuiteError(f"test {test.id!r}: 'scoring' has more than one judge entry")
    if _indicators(test) and not any(isinstance(s, ReasoningSpec) for s in specs):
        specs.append(ReasoningSpec(type="reasoning"))
    return specs


def _default_specs(test: TestCase) -> list[ScorerSpec]:
    expected = test.expected
    if expected is None:
        return []
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return [_NUMERIC]
    if isinstance(expected, dict) or (
        isinstance(expected, list) and not all(_is_scalar(v) for v in expected)
    ):
        kind = "object" if isinstance(expected, dict) else "array"
        raise SuiteError(
            f"test {test.id!r}: 'expected' is a JSON {kind}; say how to "
            'score it, e.g. "scoring": [{"type": "json", "equals": true}]'
        )
    return [_EXACT]


# The default specs, made once: specs are frozen, and building one per test was a pydantic
# validation per result scored
_NUMERIC = NumericSpec(type="numeric")
_EXACT = ExactSpec(type="exact")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _indicators(test: TestCase) -> list[str]:
    config = test.evaluation_config or {}
    words = config.get("expected_indicators")
    if words is None:
        return []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise SuiteError(
            f"test {test.id!r}: evaluation_config.expected_indicators: expected a list of "
            f"words, got {words!r}"
        )
    return words


def judge_spec(test: TestCase) -> JudgeSpec | None:
    """The test's ``judge`` entry, or None."""
    if (test.model_extra or {}).get("scoring") is None:
        return None  # the default specs have no judge: spared building them a second time
    return next((s for s in specs_for(test) if isinstance(s, JudgeSpec)), None)


def needs_judge(tests: Sequence[TestCase]) -> bool:
    """True when some test is scored by the judge."""
    return any(is_judged(t) for t in tests)


def scorers_for(test: TestCase, sandbox: SandboxSettings | None = None) -> list[Scorer]:
    """The test's rule-based scorers (every spec but ``judge``), in ``scoring`` order;
    ``sandbox`` is the run's ``[sandbox]`` for the ``python`` scorer (None: the default)."""
    out: list[Scorer] = []
    for index, spec in enumerate(specs_for(test)):
        if isinstance(spec, JudgeSpec):
            continue
        try:
            out.append(build_scorer(spec, test, sandbox))
        except ValueError as exc:
            entry = f"scoring[{index}] ({spec.type})" if index < _n_entries(test) else spec.type
            raise SuiteError(f"test {test.id!r}: {entry}: {exc}") from None
    return out


def _n_entries(test: TestCase) -> int:
    raw = (test.model_extra or {}).get("scoring")
    return len(raw) if isinstance(raw, list) else 0


def check_suite_scoring(suite: Suite, path: str | Path | None = None) -> None:
    """Build every test's scorers once, so a bad spec is an input error before a run starts."""
    for test in suite.tests:
        check_scoring(test, path)


def check_scoring(test: TestCase, path: str | Path | None = None) -> None:
    """Build the test's scorers once; SuiteError naming ``path`` and the entry when one is
    bad."""
    try:
        scorers_for(test)
    except SuiteError as exc:
        raise SuiteError(exc.detail, path=path) from None


def is_judged(test: TestCase) -> bool:
    """True when the judge scores ``test``."""
    return judge_spec(test) is not None


def runs_code(test: TestCase) -> bool:
    """True when scoring ``test`` runs code (the ``python`` scorer, a submission's
    ``evaluator``), in the sandbox."""
    return any(
        isinstance(s, PythonSpec) or (isinstance(s, SubmissionSpec) and s.evaluator is not None)
        for s in specs_for(test)
    )


# --- building scorers: ValueError here becomes a SuiteError naming the entry -----------------


def build_scorer(
    spec: ScorerSpec, test: TestCase, sandbox: SandboxSettings | None = None
) -> Scorer:
    """The scorer of one (non-judge) spec for ``test``; ValueError when the test lacks data."""
    if isinstance(spec, ExactSpec):
        return _exact(spec, test)
    if isinstance(spec, ContainsSpec):
        return _contains(spec, test)
    if isinstance(spec, RegexSpec):
        return RegexScorer(compile_pattern(spec.pattern, spec.flags), spec.match)
    if isinstance(spec, NumericSpec):
        return NumericScorer(_number(spec, test), spec.abs_tol, spec.rel_tol)
    if isinstance(spec, ChoiceSpec):
        return _choice(spec, test)
    if isinstance(spec, JsonSpec):
        if spec.equals and "expected" not in test.model_fields_set:
            raise ValueError("'equals' needs the test's 'expected'")
        return JsonScorer(spec.json_schema, test.expected, spec.equals)
    if isinstance(spec, PythonSpec):
        return _python(spec, test, sandbox)
    if isinstance(spec, SubmissionSpec):
        return _submission(spec, sandbox)
    if isinstance(spec, ReasoningSpec):
        words = spec.indicators if spec.indicators is not None else _indicators(test)
        if not words:
            raise ValueError("needs 'indicators' or evaluation_config.expected_indicators")
        return ReasoningScorer(tuple(words), spec.threshold)
    raise ValueError(f"{spec.type} is not a rule-based scorer")


def _reference(value: Any, test: TestCase) -> Any:
    if value is None:
        value = test.expected
    if value is None:
        raise ValueError("needs 'value' or the test's 'expected'")
    return value


def _exact(spec: ExactSpec, test: TestCase) -> ExactScorer:
    value = _reference(spec.value, test)
    values = value if isinstance(value, list) else [value]
    if not values or not all(_is_scalar(v) or isinstance(v, bool) for v in values):
        raise ValueError(f"expected a string or a list of strings, got {value!r}")
    options = TextOptions(spec.case_sensitive, spec.normalize_whitespace, spec.ignore_punctuation)
    return ExactScorer(tuple(as_text(v) for v in values), options)


def _contains(spec: ContainsSpec, test: TestCase) -> ContainsScorer:
    options = TextOptions(spec.case_sensitive, True, False)
    if spec.any is not None:
        phrases, mode = spec.any, "any"
    elif spec.all is not None:
        phrases, mode = spec.all, "all"
    else:
        expected = _reference(None, test)
        many = isinstance(expected, list)
        phrases = [as_text(v) for v in expected] if many else [as_text(expected)]
        mode = "any" if many else "all"
    if not all(p.strip() for p in phrases):
        raise ValueError(f"phrases must be non-empty strings, got {phrases!r}")
    return ContainsScorer(
        tuple(phrases), "any" if mode == "any" else "all", options, spec.whole_words
    )


def _number(spec: NumericSpec, test: TestCase) -> Number:
    value = _reference(spec.value, test)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Number(float(value), False, format_number(float(value)))
    number = parse_number(value) if isinstance(value, str) else None
    if number is None:
        raise ValueError(f"expected a number, got {value!r}")
    return number


def _choice(spec: ChoiceSpec, test: TestCase) -> ChoiceScorer:
    expected = _reference(None, test)
    letter = normalize(expected).upper() if isinstance(expected, str) else ""
    if len(letter) != 1 or letter not in spec.choices:
        texts = {normalize(v): k for k, v in (spec.options or {}).items()}
        letter = texts.get(normalize(expected), "") if isinstance(expected, str) else ""
    if not letter:
        also = " or an option's text" if spec.options else ""
        raise ValueError(f"'expected' must be one of {spec.choices!r}{also}, got {expected!r}")
    return ChoiceScorer(letter, spec.choices, spec.options)


def _python(spec: PythonSpec, test: TestCase, sandbox: SandboxSettings | None) -> PythonScorer:
    assertions = spec.assertions
    if assertions is None:
        assertions = (test.model_extra or {}).get("assertions") or []
        if isinstance(assertions, str):
            assertions = [assertions]
        if not isinstance(assertions, list) or not all(isinstance(a, str) for a in assertions):
            raise ValueError(
                "the test's 'assertions': expected a string or a list of strings, "
                f"got {assertions!r}"
            )
    elif isinstance(assertions, str):
        assertions = [assertions]
    for i, text in enumerate(assertions):
        try:
            compile(text, f"<assertion {i + 1}>", "exec")
        except SyntaxError as exc:
            raise ValueError(f"assertions[{i}]: not valid Python ({exc.msg}): {text!r}") from None
    limits = SandboxLimits(timeout_s=spec.timeout_s, memory_mb=spec.memory_mb)
    function = None
    if spec.answer == "function":
        if test.prompt is None:
            raise ValueError(
                '"answer": "function" needs the test\'s \'prompt\' (the code the answer completes)'
            )
        function = FunctionPrompt.parse(test.prompt)
    return PythonScorer(tuple(assertions), limits, function, sandbox)


def _submission(spec: SubmissionSpec, sandbox: SandboxSettings | None) -> SubmissionScorer:
    reference = Path(spec.reference)
    if not reference.is_file():
        raise ValueError(f"'reference': {spec.reference} is not a file")
    evaluator = None
    if spec.evaluator is not None:
        evaluator = Path(spec.evaluator)
        _check_evaluator(evaluator, spec.evaluator)
    return SubmissionScorer(
        reference=reference,
        baseline=spec.baseline,
        best=spec.best_value,
        higher_is_better=spec.higher,
        file=spec.file,
        id_column=spec.id_column,
        target_column=spec.target_column,
        metric=spec.metric,
        evaluator=evaluator,
        max_bytes=spec.max_bytes,
        sandbox=sandbox,
    )


def _check_evaluator(path: Path, shown: str) -> None:
    """ValueError unless ``path`` is Python defining ``evaluate`` at its top level (it is parsed
    here, never run: it runs in the sandbox)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise ValueError(f"'evaluator': {shown} cannot be read: {exc.strerror}") from None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ValueError(f"'evaluator': {shown} is not valid Python{where}") from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    if "evaluate" not in names:
        raise ValueError(
            f"'evaluator': {shown} defines no function evaluate(reference_path, submission_path)"
        )
