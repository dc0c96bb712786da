"""Fictional scenarios for demos and tests."""

from deconfliction.scenarios.demo import DemoNarrative, DemoScenario, build_demo

__all__ = ["DemoNarrative", "DemoScenario", "build_demo"]
