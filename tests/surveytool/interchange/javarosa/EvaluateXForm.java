// Test-only: ODK's form engine (JavaRosa, as shipped inside pyxform's ODK Validate jar) fills
// an XForm for each respondent and prints every calculate. Run as a single-file program:
//   java -cp ODK_Validate.jar EvaluateXForm.java FORM.xml ITEM,... CALC,... TRIGGER,...
// stdin: one respondent per line, answers in ITEM order separated by ',' (empty: unanswered);
// stdout: one line per respondent, the calculates' values in CALC order separated by '\t'.
// The answers are set without recomputing, then the engine recomputes what depends on each
// TRIGGER item (one item of every calculate suffices: a calculate reads all of its items),
// instead of recomputing after every single answer as a person's device would.
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.javarosa.core.model.FormDef;
import org.javarosa.core.model.FormIndex;
import org.javarosa.core.model.SelectChoice;
import org.javarosa.core.model.data.IAnswerData;
import org.javarosa.core.model.data.SelectOneData;
import org.javarosa.core.model.data.helper.Selection;
import org.javarosa.core.model.instance.InstanceInitializationFactory;
import org.javarosa.core.model.instance.TreeElement;
import org.javarosa.form.api.FormEntryController;
import org.javarosa.form.api.FormEntryModel;
import org.javarosa.form.api.FormEntryPrompt;
import org.javarosa.model.xform.XFormsModule;
import org.javarosa.xform.util.XFormUtils;

public class EvaluateXForm {
  public static void main(String[] args) throws Exception {
    new XFormsModule().registerModule();
    byte[] xml = Files.readAllBytes(Path.of(args[0]));
    String[] items = args[1].split(",");
    String[] calcs = args[2].split(",");
    String[] triggers = args[3].split(",");
    FormDef form = XFormUtils.getFormFromInputStream(new ByteArrayInputStream(xml));
    form.initialize(true, new InstanceInitializationFactory());
    FormEntryModel model = new FormEntryModel(form);
    FormEntryController controller = new FormEntryController(model);
    Map<String, FormIndex> questions = new HashMap<>();
    for (int event = controller.jumpToIndex(FormIndex.createBeginningOfFormIndex());
        event != FormEntryController.EVENT_END_OF_FORM;
        event = controller.stepToNextEvent()) {
      if (event == FormEntryController.EVENT_QUESTION) {
        FormIndex index = model.getFormIndex();
        questions.put(index.getReference().getNameLast(), index);
      }
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    StringBuilder out = new StringBuilder();
    String line;
    while ((line = in.readLine()) != null) {
      String[] values = line.split(",", -1);
      for (int i = 0; i < items.length; i++) {
        FormIndex index = questions.get(items[i]);
        if (index == null) throw new IllegalStateException("no question " + items[i]);
        IAnswerData answer = null;
        if (!values[i].isEmpty()) {
          FormEntryPrompt prompt = model.getQuestionPrompt(index);
          List<SelectChoice> choices = prompt.getSelectChoices();
          for (SelectChoice choice : choices) {
            if (choice.getValue().equals(values[i])) answer = new SelectOneData(new Selection(choice));
          }
          if (answer == null) throw new IllegalStateException("no choice " + values[i]);
        }
        TreeElement element = form.getMainInstance().resolveReference(index.getReference());
        element.setAnswer(answer);
      }
      for (String trigger : triggers) {
        form.triggerTriggerables(questions.get(trigger).getReference());
      }
      TreeElement root = form.getMainInstance().getRoot();
      for (int j = 0; j < calcs.length; j++) {
        TreeElement element = root.getChild(calcs[j], 0);
        IAnswerData value = element == null ? null : element.getValue();
        if (j > 0) out.append('\t');
        out.append(value == null ? "" : value.getDisplayText());
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}
