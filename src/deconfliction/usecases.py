"""All use cases of one running service, built around one :class:`Service`."""

from __future__ import annotations

from dataclasses import dataclass

from deconfliction.notifications.inbox import Notifications
from deconfliction.notifications.webhooks import Webhooks
from deconfliction.service.auth import Authenticator
from deconfliction.service.checks import Checks
from deconfliction.service.config import Settings
from deconfliction.service.core import Service
from deconfliction.service.registry import Registry
from deconfliction.service.reports import Reports


@dataclass(frozen=True)
class UseCases:
    service: Service
    registry: Registry
    reports: Reports
    checks: Checks
    auth: Authenticator
    notifications: Notifications
    webhooks: Webhooks

    @classmethod
    def around(cls, service: Service) -> UseCases:
        notifications = Notifications(service)
        checks = Checks(service)
        checks.planner = notifications.planner.holds
        return cls(
            service=service,
            registry=Registry(service),
            reports=Reports(service),
            checks=checks,
            auth=Authenticator(service.store),
            notifications=notifications,
            webhooks=Webhooks(service, notifications),
        )

    @classmethod
    def open(cls, settings: Settings) -> UseCases:
        return cls.around(Service.open(settings))
