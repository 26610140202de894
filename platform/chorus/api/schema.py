"""Describes Chorus' bearer tokens to drf-spectacular, so the OpenAPI schema documents them."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "chorus.accounts.authentication.ApiTokenAuthentication"
    name = "chorusToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token made in the dashboard (`chorus_<prefix>_<secret>`), with the scopes each endpoint names.",
        }
