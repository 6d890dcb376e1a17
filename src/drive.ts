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

/** The path JupyterLab opens for an attempt's artifact. */
export function drivePath(artifact: string): string {
  return `${DRIVE_NAME}:${artifact}`;
}

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
    return (await api.file(localPath)) as Contents.IModel;
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

  async createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
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
