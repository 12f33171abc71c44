"""The OpenAPI links lead from created objects to real operations with real parameters."""

from registry.api.links import LINKS


def _resolve(spec: dict, pointer: str) -> dict:
    node = spec
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_declared_link_is_in_the_document(client):
    spec = client.get("/api/v1/openapi.json").json
    for (path, method, status), declared in LINKS.items():
        links = spec["paths"][path][method]["responses"][status]["links"]
        assert set(links) == set(declared), (path, method, status)


def test_links_name_existing_operations_and_their_path_parameters(client):
    spec = client.get("/api/v1/openapi.json").json
    count = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):  # a path's shared parameter list
                continue
            for response in operation.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    target = _resolve(spec, link["operationRef"])
                    names = {p["name"] for p in target.get("parameters", [])}
                    path = link["operationRef"].split("/")[2].replace("~1", "/")
                    names |= {p["name"] for p in spec["paths"][path].get("parameters", [])}
                    assert set(link["parameters"]) <= names, link
                    count += 1
    assert count == sum(len(links) for links in LINKS.values())
