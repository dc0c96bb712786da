"""The TAK side: the CoT gateway for ATAK/WinTAK/iTAK clients, what it sends them, the reports
it takes, and their onboarding (the certificate authority, client certificates, data
packages, revoked serials, ``GET /v1/tak/status``)."""
