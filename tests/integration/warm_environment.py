"""The init phase of ``test_concurrency``'s execution environments, imported once by their fork server:
the template's HTTP functions loaded (handler modules, resolvers, validation models), so that every
environment forked from it starts as a Lambda environment does after its init (and without a
connection: none is opened before a request)."""

from local import cfn

for _route in cfn.http_routes():
    cfn.load_handler_module(_route.code_uri)
