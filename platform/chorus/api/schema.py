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


class SignedLinkScheme(OpenApiAuthenticationExtension):
    target_class = "chorus.api.datasets.DatasetLinkAuthentication"
    name = "signedLink"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "signature",
                "description": "A signature from /api/v1/datasets/comparisons/link/, valid for an hour."}


class SignedFileScheme(OpenApiAuthenticationExtension):
    target_class = "chorus.api.target_files.SignedFileAuthentication"
    name = "signedFile"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "signature",
                "description": "The signature in a target file's `signed_url`, valid for an hour."}
