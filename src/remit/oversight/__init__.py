"""The assurance loop: what-if replay of a proposed envelope over recorded history,
reproducible review samples of past decisions and their verdicts. Pure logic over typed
ledger records; reading the ledger and recording results is the edges' job.
"""
