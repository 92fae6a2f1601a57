"""Evaluation: the RPC check-out protocol (leaderboard metrics, sweep and fixed thresholds)."""
from .rpc_evaluation import RPCEvaluator
from .rpc_metrics import CountTable, official_sweep

__all__ = ["RPCEvaluator", "CountTable", "official_sweep"]
