"""Workflow conformance (T5): an action outside the declared workflow step is held at
`defaults.out_of_workflow`.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.patterns import compile_glob
from remit.domain.reasons import ReasonCode


class WorkflowCheck:
    """The request must name a workflow and step of the agent that declares this action."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        wf = ctx.request.provenance.workflow
        bound = ctx.agent.workflows
        if not bound and wf is None:
            return NONE
        problem = self._problem(ctx)
        if problem is None:
            return NONE
        floor = ctx.envelope.defaults.out_of_workflow
        return (Finding(floor, Reason(ReasonCode.OUT_OF_WORKFLOW, problem)),)

    @staticmethod
    def _problem(ctx: Context) -> str | None:
        wf = ctx.request.provenance.workflow
        agent = ctx.request.agent
        if wf is None:
            return f"Agent {agent} is bound to workflows but the request names none."
        if wf.name not in ctx.agent.workflows:
            return f"Workflow {wf.name} is not declared for agent {agent}."
        workflow = ctx.envelope.workflows[wf.name]
        if wf.step is None or wf.step not in workflow.steps:
            return f"Step {wf.step or '(none)'} is not a step of workflow {wf.name}."
        step = workflow.steps[wf.step]
        if any(compile_glob(p, ignore_case=True)(ctx.request.action) for p in step.actions):
            return None
        return f"{ctx.request.action} is not among the actions of step {wf.name}/{wf.step}."
