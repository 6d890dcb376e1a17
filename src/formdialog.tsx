/**
 * Form dialogs: Jupyter's dialog with Cancel and the primary action in its footer, where the
 * primary action (its button, or Enter in a field) submits the form, and the dialog closes
 * only once the form says it is done; a refused value leaves it open with its answer.
 */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';

const CANCEL = 0;
const ACCEPT = 1;

/** What a form in the dialog uses to drive it. */
export interface IFormHost<T> {
  /** What the primary action does (register it on every render). */
  onSubmit(submit: () => void): void;
  /** The primary button's label, and whether it can be pressed now. */
  action(label: string, enabled: boolean): void;
  /** The action succeeded: close the dialog with its result. */
  done(result: T): void;
}

class FormDialog extends Dialog<void> {
  submit: () => void = () => undefined;

  /** Footer buttons and Enter come here: the primary action submits instead of closing. */
  resolve(index?: number): void {
    if (index === undefined || index === ACCEPT) {
      this.submit();
      return;
    }
    super.resolve(index);
  }

  close(): void {
    super.resolve(CANCEL);
  }

  /** Set the primary button's label and state. */
  setAction(label: string, enabled: boolean): void {
    const button = this.node.querySelector<HTMLButtonElement>('.jp-Dialog-footer .jp-mod-accept');
    const text = button?.querySelector('.jp-Dialog-buttonLabel');
    if (button && text) {
      text.textContent = label;
      button.title = label;
      button.disabled = !enabled;
    }
  }
}

/**
 * Show a form (made by `render` with its host) in a dialog; resolves with what the form
 * gave `done`, or null when the user cancelled.
 */
export async function openFormDialog<T>(options: {
  title: string;
  action: string;
  className: string;
  render: (host: IFormHost<T>) => JSX.Element;
}): Promise<T | null> {
  let result: T | null = null;
  let dialog: FormDialog | null = null;
  const host: IFormHost<T> = {
    onSubmit: submit => {
      if (dialog) {
        dialog.submit = submit;
      }
    },
    action: (label, enabled) => dialog?.setAction(label, enabled),
    done: value => {
      result = value;
      dialog?.close();
    }
  };
  const body = ReactWidget.create(options.render(host));
  body.addClass('nbflow-dialog-body');
  dialog = new FormDialog({
    title: options.title,
    body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: options.action, className: 'nbflow-submit' })
    ]
  });
  dialog.addClass('nbflow-dialog');
  dialog.addClass(options.className);
  await dialog.launch();
  return result;
}
