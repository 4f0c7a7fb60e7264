"""Error reports never carry code values (DESIGN invariant 5).

Django's error emails and debug pages list each frame's local variables and the
request's POST data. In our apps' frames a local may hold a plaintext code
(while importing, validating, delivering), so those frames show no variables at
all, and the POST fields that carry codes are masked. One mechanism, no cost on
the hot paths (nothing runs until an error is reported).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# Our apps' frames, and the API framework's, which hold the parsed request body.
PROJECT_MODULES = ("api.", "codes.", "sales.", "listings.", "distribly.")
FRAMEWORK_MODULES_WITH_PAYLOADS = ("ninja.", "pydantic.", "pydantic_core.")
CODE_FIELDS = {"code", "codes", "file"}


class CodeSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: Any
    ) -> Any:
        module = tb_frame.f_globals.get("__name__", "")
        if module.startswith(PROJECT_MODULES + FRAMEWORK_MODULES_WITH_PAYLOADS):
            return [("(locals)", "hidden: they may hold code values")]
        return super().get_traceback_frame_variables(request, tb_frame)

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        params = super().get_post_parameters(request)
        if request is None or not hasattr(params, "copy"):
            return params
        cleaned = params.copy()
        for name in CODE_FIELDS & set(cleaned):
            cleaned[name] = self.cleansed_substitute
        return cleaned
