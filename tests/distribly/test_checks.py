"""System checks of the project: no dev payment provider in production."""

from __future__ import annotations

from tests.helpers import PRODUCTION_ENV, run_manage


def test_check_deploy_refuses_the_dev_payment_provider_in_production():
    result = run_manage(
        {**PRODUCTION_ENV, "PAYMENT_PROVIDER": "dev"}, "check", "--deploy"
    )
    assert result.returncode != 0
    assert "distribly.E001" in result.stderr + result.stdout
