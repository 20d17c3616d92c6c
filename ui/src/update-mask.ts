import type { FieldValues, TypeSpec } from "./secret-types.ts";

/**
 * The update mask of an edit (AIP-134 paths, proto names): the description
 * if it changed, each readable field whose value changed, and each sensitive
 * field given a new value; an empty sensitive field keeps the stored one.
 */
export function updateMaskPaths(spec: TypeSpec, before: FieldValues, after: FieldValues, descriptionChanged: boolean): string[] {
  const paths = descriptionChanged ? ["description"] : [];
  for (const field of spec.fields) {
    const changed = field.sensitive ? (after[field.name] ?? "") !== "" : !sameValue(before[field.name], after[field.name]);
    if (changed) {
      paths.push(field.maskPath);
    }
  }
  return paths;
}

function sameValue(a: string | string[] | undefined, b: string | string[] | undefined): boolean {
  return JSON.stringify(a ?? "") === JSON.stringify(b ?? "");
}
