"""AI event-management tables: training data, model versions, recommendations, preferences,
insights, predictions, generated content, templates, communications and automation rules
(seed 001, "AI Event Management Data Schema"), one module per sub-system: ``learning``,
``recommendations``, ``insights``, ``content``, ``communication``.

Seed 001's ``ai_agents``, ``ai_workflows``, performance and error-log tables live in other
modules; they, ``events`` and ``users`` are referenced here only by string foreign keys.
Seed 001's ``ai_schema_versions`` table is not modelled: Alembic's version table replaces it.

Differences from the seed's SQL, all deliberate:
- every table is tenant-owned (``tenant_id``), except ``content_templates``, which may be
  shared by all tenants (NULL ``tenant_id``);
- columns the seed left nullable but gave a default (``DEFAULT false``, ``DEFAULT '{}'``,
  ``DEFAULT 0``, ``DEFAULT 'pending'``, ``DEFAULT now()`` ...) are NOT NULL with that default;
- ``ai_generated_content.template_id`` and ``ai_communications.automation_rule_id`` come from
  the seed's entity-relationship diagram (CONTENT_TEMPLATES used_by, AUTOMATION_RULES triggers);
- CHECK constraints the seed declares twice (in CREATE TABLE and again under "Business Logic
  Constraints") are declared once.
"""

from __future__ import annotations

from models.ai_event.communication import (
    AICommunication,
    AutomationRule,
    AutomationRuleType,
    CommunicationType,
    DeliveryStatus,
    RecipientType,
)
from models.ai_event.content import (
    AIGeneratedContent,
    ContentTemplate,
    ContentType,
)
from models.ai_event.insights import (
    AIInsight,
    AIPrediction,
    InsightType,
    PredictionType,
)
from models.ai_event.learning import (
    AIModelVersion,
    AITrainingData,
    TrainingDataType,
)
from models.ai_event.recommendations import (
    AIRecommendation,
    PreferenceSource,
    RecommendationType,
    UserPreference,
)

__all__ = [
    "AICommunication",
    "AIGeneratedContent",
    "AIInsight",
    "AIModelVersion",
    "AIPrediction",
    "AIRecommendation",
    "AITrainingData",
    "AutomationRule",
    "AutomationRuleType",
    "CommunicationType",
    "ContentTemplate",
    "ContentType",
    "DeliveryStatus",
    "InsightType",
    "PredictionType",
    "PreferenceSource",
    "RecipientType",
    "RecommendationType",
    "TrainingDataType",
    "UserPreference",
]
