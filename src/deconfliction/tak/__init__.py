"""TAK onboarding: the certificate authority, server and client certificates, data packages."""
