"""Test suites: test cases, categories, loading and validation."""

from llmbench.suite.loader import load_categories, load_suite
from llmbench.suite.models import Category, Message, Suite, TestCase

__all__ = ["Category", "Message", "Suite", "TestCase", "load_categories", "load_suite"]
