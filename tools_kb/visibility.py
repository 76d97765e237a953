"""Which catalog rows each tenant may see, computed once per index (visibility before scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tools_kb.dense import Rows
from tools_kb.tool import Tool


@dataclass(slots=True)
class Visibility:
    """Row sets per tenant; ``None`` means every row is visible."""

    public: Rows
    by_tenant: dict[str, Rows] = field(default_factory=dict)
    all_public: bool = True

    @classmethod
    def of(cls, tools: Sequence[Tool]) -> Visibility:
        public = np.asarray([i for i, t in enumerate(tools) if t.tenants is None], dtype=np.int64)
        if len(public) == len(tools):
            return cls(public)
        tenants = sorted({x for t in tools if t.tenants for x in t.tenants})
        by_tenant = {
            name: np.asarray([i for i, t in enumerate(tools) if t.visible_to(name)], dtype=np.int64)
            for name in tenants
        }
        return cls(public, by_tenant, all_public=False)

    def rows_for(self, tenant: str | None) -> Rows | None:
        if self.all_public:
            return None
        if tenant is not None and tenant in self.by_tenant:
            return self.by_tenant[tenant]
        return self.public
