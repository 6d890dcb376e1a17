/**
 * Parameter fields: one input per parameter, typed by its default or annotation, and the
 * values the user changed read back as JSON values; no I/O.
 */
import React, { useEffect, useState } from 'react';

import { INotebookParameter } from './api';

/** A value that does not read as its field's type; `field` names the field. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string
  ) {
    super(`${field}: ${message}`);
  }
}

/** The text an input starts with for a parameter. */
export function initialText(p: INotebookParameter): string {
  if (!p.literal) {
    return p.default_text;
  }
  if (typeof p.default === 'string') {
    return p.default;
  }
  return JSON.stringify(p.default);
}

/** The typed value of an edited parameter, by the type its default or annotation gives. */
export function typedValue(p: INotebookParameter, text: string): unknown {
  const type = (p.type ?? '').trim();
  if (type === 'str') {
    return text;
  }
  if (type === 'int') {
    if (!/^\s*[-+]?\d+\s*$/.test(text)) {
      throw new FieldError(p.name, `expected a whole number, got ${JSON.stringify(text)}`);
    }
    return parseInt(text, 10);
  }
  if (type === 'float') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) {
      throw new FieldError(p.name, `expected a number, got ${JSON.stringify(text)}`);
    }
    return n;
  }
  try {
    return JSON.parse(text);
  } catch {
    if (!p.literal || type === '' || type === 'None') {
      // No typed default to go by: a text that is not JSON is taken as a string.
      return text;
    }
    throw new FieldError(p.name, 'write the value as JSON (for example [1, 2] or {"a": 1})');
  }
}

/** A workflow's (or a run's) parameter as a field: typed by its value, as the YAML gave it. */
export function valueParameter(name: string, value: unknown): INotebookParameter {
  const type =
    typeof value === 'string'
      ? 'str'
      : typeof value === 'boolean'
        ? 'bool'
        : typeof value === 'number'
          ? Number.isInteger(value)
            ? 'int'
            : 'float'
          : Array.isArray(value)
            ? 'list'
            : value === null
              ? null
              : 'dict';
  return { name, type, default: value, default_text: JSON.stringify(value), literal: true, help: '' };
}

export interface IParameterFields {
  /** One labelled input per parameter. */
  fields: JSX.Element[];
  /** The values the user changed, typed; throws a `FieldError` for one that does not read. */
  overrides: () => Record<string, unknown>;
}

/** Inputs for `params` (null while they load), pre-filled; `invalid` fields are marked. */
export function useParameterFields(
  params: INotebookParameter[] | null,
  invalid: ReadonlySet<string> = new Set()
): IParameterFields {
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [flags, setFlags] = useState<Record<string, boolean>>({});
  const [edited, setEdited] = useState<Set<string>>(new Set());
  useEffect(() => {
    const found = params ?? [];
    setTexts(Object.fromEntries(found.map(p => [p.name, initialText(p)])));
    setFlags(
      Object.fromEntries(found.filter(p => p.type === 'bool').map(p => [p.name, Boolean(p.default)]))
    );
    setEdited(new Set());
  }, [params]);

  const edit = (name: string) => setEdited(prev => new Set(prev).add(name));
  const overrides = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const p of params ?? []) {
      if (edited.has(p.name)) {
        out[p.name] = p.type === 'bool' ? flags[p.name] : typedValue(p, texts[p.name] ?? '');
      }
    }
    return out;
  };
  const fields = (params ?? []).map(p => (
    <label key={p.name} className="nbflow-param">
      <span className="nbflow-param-name" title={p.help}>
        {p.name}
        {p.type && <span className="nbflow-muted"> : {p.type}</span>}
      </span>
      {p.type === 'bool' ? (
        <input
          type="checkbox"
          name={p.name}
          checked={flags[p.name] ?? false}
          onChange={e => {
            const checked = e.currentTarget.checked;
            setFlags(prev => ({ ...prev, [p.name]: checked }));
            edit(p.name);
          }}
        />
      ) : (
        <input
          type="text"
          name={p.name}
          value={texts[p.name] ?? ''}
          spellCheck={false}
          aria-invalid={invalid.has(p.name) || undefined}
          onChange={e => {
            const value = e.currentTarget.value;
            setTexts(prev => ({ ...prev, [p.name]: value }));
            edit(p.name);
          }}
        />
      )}
      {p.help && <span className="nbflow-param-help">{p.help}</span>}
    </label>
  ));
  return { fields, overrides };
}
