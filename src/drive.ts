/**
 * A read-only JupyterLab drive over nbflow's kept attempts (`nbflow:<path>`).
 *
 * Executed notebooks live under `.nbflow/runs/`, a hidden folder that Jupyter's own
 * contents API will not serve; this drive reads them through `/nbflow/api/files`
 * and refuses every change, because an attempt's notebook is a record.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { api } from './api';

export const DRIVE_NAME = 'nbflow';

/** Between the title of an attempt and its file's own name in the name the drive shows. */
const TITLED = ' · ';

/**
 * The path JupyterLab opens for an attempt's artifact. With a title (`Run 12 · report`),
 * the file is shown as `Run 12 · report · attempt-1.ipynb` in the same folder: JupyterLab
 * names a document's tab after its file name (setting the label instead would rename the
 * file), and every `attempt-1.ipynb` would look alike.
 */
export function drivePath(artifact: string, title?: string): string {
  if (!title) {
    return `${DRIVE_NAME}:${artifact}`;
  }
  const cut = artifact.lastIndexOf('/') + 1;
  return `${DRIVE_NAME}:${artifact.slice(0, cut)}${title}${TITLED}${artifact.slice(cut)}`;
}

/** The artifact a path of this drive shows (the inverse of `drivePath`). */
export function artifactPath(localPath: string): string {
  const cut = localPath.lastIndexOf('/') + 1;
  const name = localPath.slice(cut);
  const at = name.lastIndexOf(TITLED);
  return at < 0 ? localPath : localPath.slice(0, cut) + name.slice(at + TITLED.length);
}

/** The title of an attempt of a run's task (`unit`: a task key, `KEY[i]` for an iteration). */
export function attemptTitle(runId: number, unit: string): string {
  return `Run ${runId}${TITLED}${unit}`;
}

/** The names `drivePath` gives attempts' notebooks (a pattern for JupyterLab's file types). */
export const TITLED_NOTEBOOK = '^Run \\d+ · .+ · attempt-\\d+\\.ipynb$';

export class RunsDrive implements Contents.IDrive {
  readonly name = DRIVE_NAME;
  readonly serverSettings = ServerConnection.makeSettings();
  private _changed = new Signal<Contents.IDrive, Contents.IChangedArgs>(this);
  private _disposed = false;

  get fileChanged(): ISignal<Contents.IDrive, Contents.IChangedArgs> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string): Promise<Contents.IModel> {
    const model = (await api.file(artifactPath(localPath))) as Contents.IModel;
    // Under the name it was opened by, so that JupyterLab keeps one name for it.
    return { ...model, path: localPath, name: localPath.slice(localPath.lastIndexOf('/') + 1) };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    throw this.readOnly(localPath);
  }

  async newUntitled(): Promise<Contents.IModel> {
    throw this.readOnly('');
  }

  async delete(localPath: string): Promise<void> {
    throw this.readOnly(localPath);
  }

  async rename(oldLocalPath: string): Promise<Contents.IModel> {
    throw this.readOnly(oldLocalPath);
  }

  async save(localPath: string): Promise<Contents.IModel> {
    throw this.readOnly(localPath);
  }

  async copy(localPath: string): Promise<Contents.IModel> {
    throw this.readOnly(localPath);
  }

  async createCheckpoint(_localPath: string): Promise<Contents.ICheckpointModel> {
    // The document manager checkpoints every file it opens; a record needs none.
    return { id: 'record', last_modified: new Date(0).toISOString() };
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(localPath: string): Promise<void> {
    throw this.readOnly(localPath);
  }

  async deleteCheckpoint(): Promise<void> {
    return;
  }

  private readOnly(path: string): Error {
    return new Error(
      `${path || 'nbflow'}: an executed notebook of nbflow is a record and cannot be changed; ` +
        'use File > Save As… on a notebook of your own'
    );
  }
}
