"""The approvers' inbox: server-rendered pages of the API app (``/inbox``) where people sign
in, see the approvals waiting for them and decide them. ``worker.inbox.app.install(app)``
mounts it; ``sessions``, ``csrf`` and ``templating`` are what other pages (the run pages)
build on."""
