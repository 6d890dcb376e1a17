/**
 * Executed notebooks as records: opened from the run view without a kernel, read-only.
 *
 * JupyterLab's own notebook factory starts (or asks for) a kernel for every notebook it
 * opens, and the kernel's metadata then marks the notebook changed. An attempt's notebook
 * is what ran: it is shown by a factory of its own that never starts a kernel, locks every
 * cell, and is the default only for the names the runs drive gives attempts' notebooks.
 */
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  NotebookPanel,
  NotebookWidgetFactory
} from '@jupyterlab/notebook';
import { notebookIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { TITLED_NOTEBOOK } from './drive';

export const EXECUTED_FACTORY = 'nbflow executed notebook';
const FILE_TYPE = 'nbflow-executed-notebook';

/** The file type of attempts' notebooks as the runs drive names them. */
export const executedFileType: DocumentRegistry.IFileType = {
  ...DocumentRegistry.getDefaultNotebookFileType(),
  name: FILE_TYPE,
  displayName: 'Executed notebook (nbflow)',
  extensions: [],
  pattern: TITLED_NOTEBOOK,
  icon: notebookIcon
};

/** A note in the toolbar: what this is, and (once the session has settled) that no kernel runs. */
function recordNote(panel: NotebookPanel): Widget {
  const note = new Widget();
  note.addClass('nbflow-record-note');
  note.node.textContent = 'Executed by nbflow: a record, opened without a kernel';
  void panel.sessionContext.ready.then(() => {
    note.node.dataset.kernel = panel.sessionContext.session ? 'started' : 'none';
  });
  return note;
}

class ExecutedNotebookFactory extends NotebookWidgetFactory {
  protected createNewWidget(
    context: DocumentRegistry.IContext<INotebookModel>,
    source?: NotebookPanel
  ): NotebookPanel {
    const panel = super.createNewWidget(context, source);
    panel.addClass('nbflow-executed');
    context.model.readOnly = true;
    const notebook = panel.content;
    const lock = () => {
      for (const cell of notebook.widgets) {
        // Not through the cells' `editable` metadata: writing it would change the record.
        cell.syncEditable = false;
        cell.readOnly = true;
      }
    };
    lock();
    context.model.cells.changed.connect(lock);
    panel.disposed.connect(() => context.model.cells.changed.disconnect(lock));
    panel.toolbar.addItem('nbflow-record', recordNote(panel));
    return panel;
  }
}

/** The factory for executed notebooks, sharing the notebook factory's renderers and settings. */
export function executedFactory(notebooks: NotebookWidgetFactory.IFactory): ExecutedNotebookFactory {
  const base = notebooks as NotebookWidgetFactory;
  return new ExecutedNotebookFactory({
    name: EXECUTED_FACTORY,
    label: 'Executed notebook (nbflow)',
    fileTypes: [FILE_TYPE],
    defaultFor: [FILE_TYPE],
    modelName: 'notebook',
    preferKernel: false,
    canStartKernel: false,
    shutdownOnClose: false,
    readOnly: true,
    rendermime: base.rendermime,
    contentFactory: base.contentFactory,
    mimeTypeService: base.mimeTypeService,
    editorConfig: base.editorConfig,
    notebookConfig: base.notebookConfig
  });
}
