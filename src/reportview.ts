/**
 * The report view: a run's (or an attempt's) HTML report, as `nbflow report` writes it,
 * inside JupyterLab in a sandboxed frame.
 *
 * The page is fetched through Jupyter's ServerConnection (so with the server's token, as
 * every other request of the extension) and shown with `srcdoc` in an iframe sandboxed
 * without `allow-same-origin`: a script in a notebook's output runs in an origin of its
 * own and cannot reach JupyterLab, the reader's session or the server's API, as the
 * route's own Content-Security-Policy sandbox ensures for a page opened directly.
 */
import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { api } from './api';
import { IReportTarget, reportFileName, reportId, reportTitle, showsCode } from './reports';

export class ReportFrame extends Widget {
  constructor(readonly target: IReportTarget) {
    super();
    this.addClass('nbflow-report-frame');
    this.frame = document.createElement('iframe');
    // Scripts may run (a plot's), each in an opaque origin; links may open a new tab.
    this.frame.setAttribute('sandbox', 'allow-scripts allow-popups');
    this.frame.setAttribute('referrerpolicy', 'no-referrer');
    this.frame.title = reportTitle(target);
    this.message = document.createElement('div');
    this.message.className = 'nbflow-report-message';
    this.node.append(this.message, this.frame);
  }

  /** The code cells left out (true), shown (false) or as the workflow says (undefined). */
  noInput: boolean | undefined = undefined;

  /** The page's HTML as last fetched ('' before). */
  get page(): string {
    return this._page;
  }

  /** Fetch the report again and show it. */
  async load(): Promise<void> {
    const { run, task, attempt } = this.target;
    this.message.textContent = 'Writing the report…';
    this.message.className = 'nbflow-report-message';
    this.message.hidden = false;
    this.node.dataset.state = 'loading';
    try {
      this._page = await api.report(run, task, attempt, this.noInput);
      this.frame.srcdoc = this._page;
      this.message.hidden = true;
      this.node.dataset.state = 'ready';
    } catch (e) {
      this.message.textContent = (e as Error).message;
      this.message.className = 'nbflow-report-message nbflow-error';
      this.node.dataset.state = 'error';
    }
  }

  private frame: HTMLIFrameElement;
  private message: HTMLDivElement;
  private _page = '';
}

/** The report in a main-area widget, with Reload, code shown or hidden, and Download. */
export function reportWidget(target: IReportTarget): MainAreaWidget<ReportFrame> {
  const content = new ReportFrame(target);
  const widget = new MainAreaWidget({ content });
  widget.addClass('nbflow-report-widget');
  widget.id = reportId(target);
  widget.title.label = reportTitle(target);
  widget.title.closable = true;
  // A toolbar button whose label says what a click does (a plain button: its label is
  // set when the page arrives, which a React toolbar button may not have drawn yet).
  const code = document.createElement('button');
  code.className = 'jp-ToolbarButtonComponent jp-Button jp-mod-minimal nbflow-report-code';
  code.title = 'Leave the code cells out of the report, or show them again';
  code.textContent = 'Hide code';
  code.addEventListener('click', () => {
    // The first click decides against what the page shows now (the workflow's default
    // is unknown here: the server applies it). After that, it toggles.
    content.noInput = content.noInput === undefined ? showsCode(content.page) : !content.noInput;
    void content.load().then(label);
  });
  const codeItem = new Widget({ node: code });
  codeItem.addClass('jp-Toolbar-item');
  const label = () => {
    const hidden = content.noInput ?? !showsCode(content.page);
    code.textContent = hidden ? 'Show code' : 'Hide code';
    code.dataset.hidden = String(hidden);
  };
  widget.toolbar.addItem(
    'reload',
    new ToolbarButton({
      className: 'nbflow-report-reload',
      label: 'Reload',
      tooltip: 'Write the report again (a repair may have changed the run)',
      onClick: () => void content.load().then(label)
    })
  );
  widget.toolbar.addItem('code', codeItem);
  widget.toolbar.addItem(
    'download',
    new ToolbarButton({
      className: 'nbflow-report-download',
      label: 'Download',
      tooltip: 'Save the report as one self-contained HTML file',
      onClick: () => {
        const link = document.createElement('a');
        link.href = URL.createObjectURL(new Blob([content.page], { type: 'text/html' }));
        link.download = reportFileName(target);
        link.click();
        window.setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      }
    })
  );
  void content.load().then(label);
  return widget;
}
