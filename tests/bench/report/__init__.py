"""The report: tables on stdout, the same figures as JSON.

``results.Results`` gathers every run's figures, their ratios and the targets, and writes the
JSON; ``text.render`` writes the tables, with (b)'s profile from ``agent_profile`` and the
workflows section from ``workflows``; ``formatting`` has the cells and table layout they share.
"""
