//! Left-aligned text columns for listings.

use std::io::{self, Write};

/// Rows of cells, written with each column as wide as its widest cell.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `titles`.
    pub fn new(titles: &[&str]) -> Table {
        Table {
            rows: vec![titles.iter().map(|title| title.to_string()).collect()],
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Writes the rows, columns two spaces apart, no trailing spaces.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = Vec::new();
        for row in &self.rows {
            for (column, cell) in row.iter().enumerate() {
                match widths.get_mut(column) {
                    Some(width) => *width = (*width).max(cell.chars().count()),
                    None => widths.push(cell.chars().count()),
                }
            }
        }
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:width$}  "));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_to_the_widest_cell() {
        let mut table = Table::new(&["A", "LONGER"]);
        table.push(vec!["wide cell".into(), "x".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A          LONGER\nwide cell  x\n"
        );
    }
}
