"""Reviewing what ran: the run document, HTML reports, run comparison, an attempt's log as
text, the runs folder as files for the lab."""
