"""Required elements: what this profile says every frame must show (specimen, a label, a scale bar)."""

from __future__ import annotations

from edge.qc.base import CheckResult, FrameContext

_ELEMENTS = (
    ("specimen", ("specimen",), "Specimen not found: place the specimen in shot"),
    ("label", ("label", "type_label"), "No label found: make sure the specimen's label is in shot"),
    ("scale_bar", ("scale_bar",), "Scale bar not found: place the scale bar in shot"),
)


class RequiredElementsCheck:
    name = "required_elements"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.required_elements
        failing: list[str] = []
        warning: list[str] = []
        for key, classes, message in _ELEMENTS:
            severity = getattr(settings, key)
            if severity == "off" or frame.regions_of(*classes):
                continue
            (failing if severity == "fail" else warning).append(message)
        if failing:
            return CheckResult(self.name, "fail", "; ".join(failing + warning) + " and retake",
                               value=len(failing) + len(warning))
        if warning:
            return CheckResult(self.name, "warn", "; ".join(warning), value=len(warning))
        return CheckResult(self.name, "ok", "Every required element is in shot.", value=0)
