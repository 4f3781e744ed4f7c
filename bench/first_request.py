"""What a function's first request imports beyond its cold init, read from the code (no AWS, no run).

The handlers defer their heavy imports to the first request (``tests/functions/test_cold_imports.py``): the
imports inside ``app.py``'s functions, and those inside the wiring functions it calls (``runtime.payments()``
imports the DynamoDB store, ``runtime.gateway()`` the gateway client...), followed through the wiring
module's own calls. The result is a list of modules to import after ``import app``, so the benchmark can time
what the first request adds.
"""

from __future__ import annotations

import ast
from pathlib import Path


def _imports_in(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            found |= {alias.name for alias in child.names}
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            found.add(child.module)
    return found


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level functions, and instances of the module's classes (``gateway = _GatewayFactory()``) as the class."""
    found: dict[str, ast.AST] = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in classes
        ):
            found |= {
                target.id: classes[node.value.func.id]
                for target in node.targets
                if isinstance(target, ast.Name)
            }
    return found


def _module_file(module: str, search: list[Path]) -> Path | None:
    relative = Path(*module.split("."))
    for root in search:
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def first_request_modules(app_file: Path, search: list[Path]) -> list[str]:
    """Modules the first request imports: app.py's deferred imports and its wiring calls' (transitively)."""
    tree = ast.parse(app_file.read_text(encoding="utf-8"))
    found: set[str] = set()
    for function in _functions(tree).values():
        found |= _imports_in(function)
    # Module-level `from package import module` aliases, and the functions of theirs that app.py calls.
    aliases = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    for alias, module in aliases.items():
        path = _module_file(module, search)
        if path is None:
            continue  # a name, not a module
        called = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == alias
        }
        found |= _wiring_imports(ast.parse(path.read_text(encoding="utf-8")), called)
    return sorted(found)


def _wiring_imports(module: ast.Module, called: set[str]) -> set[str]:
    functions = _functions(module)
    seen: set[str] = set()
    pending = [name for name in called if name in functions]
    imports: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        imports |= _imports_in(functions[name])
        pending += [
            node.func.id
            for node in ast.walk(functions[name])
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions
        ]
    return imports
