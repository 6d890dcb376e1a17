/**
 * nbflow in JupyterLab: the "Run with nbflow" notebook button, the side panel,
 * run views, and the read-only drive that opens executed notebooks.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  INotebookTracker,
  INotebookWidgetFactory,
  NotebookPanel,
  NotebookWidgetFactory
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { BackfillView, backfillDialog } from './backfill';
import { CompareView } from './compareview';
import { openRunDialog } from './dialog';
import { DRIVE_NAME, RunsDrive, drivePath } from './drive';
import { EXECUTED_FACTORY, executedFactory, executedFileType } from './executed';
import { changed, feed } from './live';
import { MatrixView } from './matrixview';
import { NbflowPanel } from './panel';
import { ReportFrame, reportWidget } from './reportview';
import { IReportTarget, reportId } from './reports';
import { RunView } from './runview';
import { INbflowSettings, applySettings, settings, settingsChanged } from './settings';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="12" r="3"/><circle cx="19" cy="5" r="3"/><circle cx="19" cy="19" r="3"/>
    <path d="M7.6 10.7 16.4 6.3l.9 1.8-8.8 4.4zM7.6 13.3l8.8 4.4-.9 1.8-8.8-4.4z"/>
  </g>
</svg>`;

export const nbflowIcon = new LabIcon({ name: 'nbflow:icon', svgstr: ICON_SVG });

namespace CommandIDs {
  export const runNotebook = 'nbflow:run-notebook';
  export const openRun = 'nbflow:open-run';
  export const openPanel = 'nbflow:open-panel';
  export const openMatrix = 'nbflow:open-matrix';
  export const openCompare = 'nbflow:open-compare';
  export const openReport = 'nbflow:open-report';
  export const openBackfill = 'nbflow:open-backfill';
}

function notify(message: string, kind: 'success' | 'error' | 'info'): void {
  Notification[kind](message, { autoClose: kind === 'error' ? 8000 : 4000 });
}

/** Puts "Run with nbflow" on the toolbar of every notebook. */
class RunButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    if (panel.context.path.startsWith(`${DRIVE_NAME}:`)) {
      // An executed copy kept by nbflow is a record, not something to run again.
      return new DisposableDelegate(() => undefined);
    }
    const button = new ToolbarButton({
      className: 'nbflow-run-button',
      icon: nbflowIcon,
      label: 'Run with nbflow',
      tooltip: 'Run this notebook with nbflow now, schedule it, or add it to a workflow',
      onClick: () => {
        void this.app.commands.execute(CommandIDs.runNotebook, { path: panel.context.path });
      }
    });
    panel.toolbar.insertItem(10, 'nbflowRun', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

/**
 * Whether the cells of an open notebook differ from the file on disk. A notebook is
 * often marked dirty by its kernel's metadata alone; only cell sources matter to a run.
 */
async function cellsDiffer(app: JupyterFrontEnd, panel: NotebookPanel): Promise<boolean> {
  if (!panel.context.model.dirty) {
    return false;
  }
  const text = (source: unknown) => (Array.isArray(source) ? source.join('') : String(source));
  const sources = (cells: any[]) => JSON.stringify(cells.map(c => [c.cell_type, text(c.source)]));
  try {
    const saved = await app.serviceManager.contents.get(panel.context.path, { content: true });
    const current = panel.context.model.toJSON() as unknown as { cells: any[] };
    return sources(saved.content.cells) !== sources(current.cells);
  } catch {
    return true;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbflow:plugin',
  description: 'Run and schedule notebooks as nbflow workflows, and follow their runs.',
  autoStart: true,
  requires: [IDocumentManager, INotebookTracker, INotebookWidgetFactory],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    notebooks: INotebookTracker,
    notebookFactory: NotebookWidgetFactory.IFactory,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    registry: ISettingRegistry | null
  ) => {
    app.serviceManager.contents.addDrive(new RunsDrive());
    app.docRegistry.addFileType(executedFileType);
    app.docRegistry.addWidgetFactory(executedFactory(notebookFactory));
    const openArtifact = (artifact: string, title: string) => {
      // A notebook as a record (no kernel, read-only); a log in the default editor.
      const factory = artifact.endsWith('.ipynb') ? EXECUTED_FACTORY : 'default';
      docManager.openOrReveal(drivePath(artifact, title), factory);
    };

    const runs = new WidgetTracker<MainAreaWidget<RunView>>({ namespace: 'nbflow-run' });
    const openRun = (id: number) => {
      const existing = runs.find(w => w.id === `nbflow-run-${id}`);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = new RunView({
        id,
        openArtifact,
        openRun: other => void app.commands.execute(CommandIDs.openRun, { id: other }),
        openCompare: (a, b) => void app.commands.execute(CommandIDs.openCompare, { a, b }),
        openReport: target => void app.commands.execute(CommandIDs.openReport, { ...target }),
        notify
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `nbflow-run-${id}`;
      widget.title.label = `Run #${id}`;
      widget.title.icon = nbflowIcon;
      widget.title.closable = true;
      void runs.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    const matrices = new WidgetTracker<MainAreaWidget<MatrixView>>({ namespace: 'nbflow-matrix' });
    const openMatrix = (workflow: string) => {
      const id = `nbflow-matrix-${workflow}`;
      const existing = matrices.find(w => w.id === id);
      if (existing) {
        app.shell.activateById(id);
        return existing;
      }
      const content = new MatrixView({
        workflow,
        openRun: run => void app.commands.execute(CommandIDs.openRun, { id: run })
      });
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = `Runs of ${workflow}`;
      widget.title.icon = nbflowIcon;
      widget.title.closable = true;
      void matrices.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    /** A main-area widget of `tracker` with `id`: the one open, or a new one from `make`. */
    const reveal = <T extends MainAreaWidget>(tracker: WidgetTracker<T>, id: string, make: () => T): T => {
      const existing = tracker.find(w => w.id === id);
      if (existing) {
        app.shell.activateById(id);
        return existing;
      }
      const widget = make();
      widget.id = id;
      widget.title.icon = nbflowIcon;
      widget.title.closable = true;
      void tracker.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(id);
      return widget;
    };

    const comparisons = new WidgetTracker<MainAreaWidget<CompareView>>({ namespace: 'nbflow-compare' });
    const openCompare = (a: number, b: number) =>
      reveal(comparisons, `nbflow-compare-${a}-${b}`, () => {
        const widget = new MainAreaWidget({
          content: new CompareView({
            a,
            b,
            openRun: run => void app.commands.execute(CommandIDs.openRun, { id: run })
          })
        });
        widget.title.label = `Run #${a} → #${b}`;
        return widget;
      });

    const reports = new WidgetTracker<MainAreaWidget<ReportFrame>>({ namespace: 'nbflow-report' });
    const openReport = (target: IReportTarget) => reveal(reports, reportId(target), () => reportWidget(target));

    const backfills = new WidgetTracker<MainAreaWidget<BackfillView>>({ namespace: 'nbflow-backfill' });
    const openBackfill = (id: number) =>
      reveal(backfills, `nbflow-backfill-${id}`, () => {
        const widget = new MainAreaWidget({
          content: new BackfillView({
            id,
            openRun: run => void app.commands.execute(CommandIDs.openRun, { id: run }),
            notify
          })
        });
        widget.title.label = `Backfill #${id}`;
        return widget;
      });

    const panel = new NbflowPanel({
      openRun: id => void app.commands.execute(CommandIDs.openRun, { id }),
      openMatrix: workflow => void app.commands.execute(CommandIDs.openMatrix, { workflow }),
      openFile: path => void docManager.openOrReveal(path),
      backfill: async workflow => {
        const started = await backfillDialog(workflow);
        if (started) {
          notify(`Backfill #${started.id} of ${workflow.name} recorded: ${started.days.length} fire times`, 'success');
          changed.emit();
          void app.commands.execute(CommandIDs.openBackfill, { id: started.id });
        }
      },
      notify
    });
    panel.title.icon = nbflowIcon;
    panel.title.caption = 'nbflow: workflows and runs';
    app.shell.add(panel, 'left', { rank: 650 });
    // The stream asks for as many runs as the panel lists; it starts with the defaults and
    // reconnects if the user's settings ask for another number.
    const configure = (s: INbflowSettings) =>
      feed.configure({ limit: s.recentRuns, reconnectDelay: s.reconnectDelay });
    configure(settings);
    settingsChanged.connect((_, s) => configure(s));
    feed.start();
    if (registry) {
      registry
        .load(plugin.id)
        .then(loaded => {
          const take = () => applySettings(loaded.composite as Record<string, unknown>);
          take();
          loaded.changed.connect(take);
        })
        .catch(reason => console.error(`nbflow: settings could not be loaded: ${reason}`));
    }

    app.commands.addCommand(CommandIDs.openRun, {
      label: args => (args.id ? `Open nbflow run #${args.id}` : 'Open nbflow run'),
      execute: args => openRun(Number(args.id))
    });
    app.commands.addCommand(CommandIDs.openMatrix, {
      label: args => (args.workflow ? `Runs of ${args.workflow} × tasks` : 'Runs × tasks'),
      execute: args => openMatrix(String(args.workflow))
    });
    app.commands.addCommand(CommandIDs.openCompare, {
      label: args => (args.a ? `Compare nbflow runs #${args.a} and #${args.b}` : 'Compare nbflow runs'),
      execute: args => openCompare(Number(args.a), Number(args.b))
    });
    app.commands.addCommand(CommandIDs.openReport, {
      label: args => (args.run ? `Report of nbflow run #${args.run}` : 'Report of an nbflow run'),
      execute: args =>
        openReport({
          run: Number(args.run),
          task: typeof args.task === 'string' ? args.task : undefined,
          attempt: typeof args.attempt === 'number' ? args.attempt : undefined
        })
    });
    app.commands.addCommand(CommandIDs.openBackfill, {
      label: args => (args.id ? `Open nbflow backfill #${args.id}` : 'Open nbflow backfill'),
      execute: args => openBackfill(Number(args.id))
    });
    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Show nbflow workflows and runs',
      icon: nbflowIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.runNotebook, {
      label: 'Run with nbflow…',
      caption: 'Run this notebook with nbflow now, schedule it, or add it to a workflow',
      icon: nbflowIcon,
      isEnabled: () => Boolean(notebooks.currentWidget),
      execute: async args => {
        const current = notebooks.currentWidget;
        const path = (args.path as string | undefined) ?? current?.context.path;
        if (!path) {
          return;
        }
        // nbflow runs the file on disk; the dialog says so when the open copy differs.
        const open = notebooks.find(w => w.context.path === path);
        const result = await openRunDialog(path, open ? await cellsDiffer(app, open) : false);
        if (!result) {
          return;
        }
        changed.emit();
        app.shell.activateById(panel.id);
        if (result.kind === 'run') {
          notify(`Run #${result.id} of ${path} started`, 'success');
          openRun(result.id);
        } else {
          const next = result.workflow.schedule?.next_fire;
          notify(
            result.kind === 'schedule'
              ? `Scheduled: ${result.workflow.file}${next ? `, next run ${new Date(next).toLocaleString()}` : ''}`
              : `Added to ${result.workflow.file}`,
            'success'
          );
          void docManager.openOrReveal(result.workflow.file);
        }
      }
    });
    if (palette) {
      for (const command of [CommandIDs.runNotebook, CommandIDs.openPanel]) {
        palette.addItem({ command, category: 'nbflow' });
      }
    }
    app.docRegistry.addWidgetExtension('Notebook', new RunButton(app));

    if (restorer) {
      restorer.add(panel, 'nbflow-panel');
      void restorer.restore(runs, {
        command: CommandIDs.openRun,
        args: widget => ({ id: Number(widget.id.replace('nbflow-run-', '')) }),
        name: widget => widget.id
      });
      void restorer.restore(matrices, {
        command: CommandIDs.openMatrix,
        args: widget => ({ workflow: widget.id.replace('nbflow-matrix-', '') }),
        name: widget => widget.id
      });
      void restorer.restore(comparisons, {
        command: CommandIDs.openCompare,
        args: widget => {
          const [a, b] = widget.id.replace('nbflow-compare-', '').split('-').map(Number);
          return { a, b };
        },
        name: widget => widget.id
      });
      void restorer.restore(reports, {
        command: CommandIDs.openReport,
        args: widget => ({ ...widget.content.target }),
        name: widget => widget.id
      });
      void restorer.restore(backfills, {
        command: CommandIDs.openBackfill,
        args: widget => ({ id: Number(widget.id.replace('nbflow-backfill-', '')) }),
        name: widget => widget.id
      });
    }
  }
};

export default plugin;
