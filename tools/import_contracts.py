"""Import contracts of our own, checked by `lint-imports` beside import-linter's built-in
ones (the contracts themselves are in `.importlinter`)."""

import ast
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


@dataclass(frozen=True, order=True)
class Violation:
    importer: str
    line_number: int
    imported: str
    reason: str


class PublicSurfaceContract(Contract):
    """What one module may take from another.

    - A module of `container` imports from another module there only its `public`
      submodules (and the full module names in `also_public`).
    - Nothing outside a module imports its `private` submodules, nor a name (or module)
      whose name starts with an underscore.

    A module is a direct child of `container` (`iwm.modules.users`); elsewhere, a direct
    child of the root package (`iwm.core`, `iwm.web`)."""

    type_name = "public_surface"

    container = fields.StringField()
    public = fields.ListField(subfield=fields.StringField())
    also_public = fields.ListField(subfield=fields.StringField(), required=False)
    private = fields.ListField(subfield=fields.StringField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        container = str(self.container)
        public, also_public, private = (
            self._strings("public"),
            self._strings("also_public"),
            self._strings("private"),
        )
        root = container.split(".", maxsplit=1)[0]

        def owner(module: str) -> str:
            parts = module.split(".")
            depth = container.count(".") + 2 if module.startswith(container + ".") else 2
            return ".".join(parts[:depth])

        violations: set[Violation] = set()
        for importer in sorted(graph.modules):
            if not importer.startswith(root + "."):
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if owner(importer) == owner(imported) or not imported.startswith(root + "."):
                    continue
                base = owner(imported)
                rest = imported[len(base) + 1 :].split(".") if imported != base else []
                reason = None
                if any(part.startswith("_") and not part.startswith("__") for part in rest):
                    reason = "a private module"
                elif rest and rest[0] in private:
                    reason = f"its {rest[0]}, private to {owner(imported)}"
                elif (
                    importer.startswith(container + ".")
                    and imported.startswith(container + ".")
                    and rest
                    and rest[0] not in public
                    and imported not in also_public
                ):
                    reason = f"its {rest[0]}, not one of {', '.join(sorted(public))}"
                if reason is not None:
                    for detail in graph.get_import_details(importer=importer, imported=imported):
                        violations.add(Violation(importer, detail["line_number"], imported, reason))
            violations |= self._private_names(importer, graph, owner)
        return ContractCheck(
            kept=not violations,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"violations": sorted(violations)},
        )

    def _strings(self, option: str) -> set[str]:
        # Once parsed, an option holds its values (the class attribute is the field).
        values: Any = getattr(self, option, None) or ()
        return {str(v) for v in values}

    @staticmethod
    def _private_names(
        importer: str, graph: grimp.ImportGraph, owner: Callable[[str], str]
    ) -> set[Violation]:
        """`from x import _name` where x belongs to another module (and the import is not
        one the contract ignores)."""
        found: set[Violation] = set()
        tree = ast.parse(_source_file(importer).read_text())
        imported_by = graph.find_modules_directly_imported_by(importer)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
                continue
            if owner(node.module) == owner(importer):
                continue
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                target = f"{node.module}.{name}"
                module = target if target in graph.modules else node.module
                if module in imported_by:
                    found.add(Violation(importer, node.lineno, target, "a private name"))
        return found

    def render_broken_contract(self, check: ContractCheck) -> None:
        for v in check.metadata["violations"]:
            output.print_error(
                f"- {v.importer} (l.{v.line_number}) imports {v.imported}: {v.reason}",
                bold=False,
            )
        output.new_line()


def _source_file(module: str) -> Path:
    """The file of `module`, found without importing anything."""
    root, *parts = module.split(".")
    spec = importlib.util.find_spec(root)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"no package {root}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
