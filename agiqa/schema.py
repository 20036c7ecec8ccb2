"""The pydantic base of every configuration model: unknown keys are refused, assignments validated.

A leaf module (imports nothing of agiqa) so that storage, engines, methods and the job configs can
all share it without importing one another.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
