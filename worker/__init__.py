"""agentworker's runtime: settings, Celery app, LLM gateway, agent loop, tools, workflows,
approvals, CLI and the embedded development stack. Other services use ``worker.client``."""
